"""Item index and publishing speed on real item vectors, beside numpy brute force (same run).

    python -m bench.rec_index [--dataset ml_1m_seq/ml-1m.txt] [--minutes 3]

Trains SASRec briefly on the dataset (the vectors only need to be real, not best), then times
top-10 search for every user's state with numpy brute force and with FAISS exact, IVF and HNSW
indexes, measuring each one's recall@10 against exact search, and times publishing top-100 for
every user (index search, seen-item filtering, business rules) into a SQLite store.
Writes bench/results/rec_index.{json,md}.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import torch

from bench import common


def brute_force(queries: np.ndarray, vectors: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vectors.T  # (Q, N)
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def main() -> None:
    from domain.ranking import RankingRules
    from domain.sequences import leave_one_out, load_sequence_file
    from models.index import build_index
    from models.recommender.data import left_pad
    from models.recommender.publish import recommend_batch, user_batches
    from models.recommender.sasrec import SASRecConfig
    from models.recommender.train import train_sasrec
    from models.training import TrainConfig
    from storage.engine import make_engine
    from storage.migrate import upgrade
    from storage.recsets import activate_set, create_set, write_recommendations

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--dataset", default="ml_1m_seq/ml-1m.txt")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seqs = load_sequence_file(args.data_dir / args.dataset)
    split = leave_one_out(seqs)
    model, result = train_sasrec(split, SASRecConfig(n_items=seqs.n_items),
                                 TrainConfig(max_seconds=args.minutes * 60, patience=3))
    model.eval()
    with torch.inference_mode():
        vectors = model.item_vectors()[1:].numpy().astype(np.float32)  # (N, d)
        queries = model.encode_users(torch.from_numpy(
            left_pad(seqs.items, model.config.max_len))).numpy().astype(np.float32)  # (U, d)
    k = 10
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    exact = brute_force(queries, vectors, k)
    numpy_seconds = time.perf_counter() - started
    rows.append({"method": "numpy brute force (baseline)", "seconds": numpy_seconds,
                 "queries_per_s": len(queries) / numpy_seconds, "recall@10": 1.0})
    ids = [str(i) for i in range(len(vectors))]
    for kind, nprobe in (("flat", 0), ("ivf", 8), ("ivf", 32), ("hnsw", 0)):
        built = time.perf_counter()
        index = build_index(vectors, ids, model_version_id=0, kind=kind, nprobe=nprobe or 32,
                            use_gpu=False)
        build_seconds = time.perf_counter() - built
        started = time.perf_counter()
        _, found = index.search(queries, k)
        seconds = time.perf_counter() - started
        recall = float(np.mean([len({int(x) for x in f} & set(e.tolist())) / k
                                for f, e in zip(found, exact, strict=True)]))
        name = f"faiss {kind}" + (f" nprobe={nprobe}" if kind == "ivf" else "")
        rows.append({"method": name, "seconds": seconds, "build_seconds": build_seconds,
                     "queries_per_s": len(queries) / seconds, "recall@10": recall,
                     "speedup_vs_numpy": numpy_seconds / seconds})
    index = build_index(vectors, seqs.item_ids, model_version_id=0, use_gpu=False)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'p.db'}")
        upgrade(engine)
        started = time.perf_counter()
        set_id = create_set(engine=engine, model_version_id=None, k=100)
        written = 0
        for start, end in user_batches(len(seqs.user_ids), 2_000):
            frame: pl.DataFrame = recommend_batch(
                model=model, index=index, seqs=seqs, item_ids=seqs.item_ids, start=start,
                end=end, k=100, rules=RankingRules())
            written += write_recommendations(engine=engine, set_id=set_id, frame=frame)
        activate_set(engine=engine, set_id=set_id)
        publish_seconds = time.perf_counter() - started
    out = {"dataset": args.dataset, "items": len(vectors), "users": len(queries),
           "dim": int(vectors.shape[1]), "train_minutes": args.minutes,
           "valid_ndcg@10": result.best_metric, "search": rows,
           "publish": {"users": len(seqs.user_ids), "rows": written,
                       "seconds": publish_seconds}}
    lines = [f"# Item index on real SASRec vectors: {args.dataset}, {len(vectors):,} items x "
             f"{vectors.shape[1]}, {len(queries):,} user queries, top-{k}", "",
             "| method | search s | queries/s | recall@10 vs exact | speed-up vs numpy | "
             "build s |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['seconds']:.3f} | {r['queries_per_s']:,.0f} | "
                     f"{r['recall@10']:.3f} | {r.get('speedup_vs_numpy', 1.0):.2f}x | "
                     f"{r.get('build_seconds', 0.0):.2f} |")
    lines += ["", f"Publishing top-100 for all {len(seqs.user_ids):,} users ({written:,} rows, "
              f"seen items filtered) into SQLite: {publish_seconds:.1f} s."]
    common.write_results("rec_index", out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
