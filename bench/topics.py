"""Topic quality: NMF topics (``models.topics``) against the 900 hand-labelled support tweets.

Adjusted mutual information (AMI) between each tweet's topic and its label, at k = 10, 20, 40:
over all 900 (a tweet's first label), over the tweets with exactly one label, and within each
company (the labels differ between AmazonHelp, AppleSupport and SpotifyCares).

    .venv/bin/python -m bench.topics [--data-dir ../shared/data]

Writes bench/results/topics.json and bench/results/topics.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench import common


def topic_ami(data_dir: Path) -> list[dict[str, Any]]:
    """AMI of NMF topics against the labels, one row per k."""
    from sklearn.metrics import adjusted_mutual_info_score as ami

    from models.topics import TopicConfig, TopicModel, kechtel_labels

    labelled = kechtel_labels(data_dir / "customer_support_twitter" / "labeled_kechtel")
    rows = []
    for k in (10, 20, 40):
        model = TopicModel.fit(labelled["text"].to_list(), TopicConfig(k=k, seed=0))
        topics, _ = model.assign(labelled["text"].to_list())
        frame = labelled.with_columns(pl.Series("topic", topics))
        single = frame.filter(pl.col("flags") == 1)
        per_company = [ami(g["label"], g["topic"]) for _, g in single.group_by("company")]
        rows.append({"k": k, "ami_all_900": ami(frame["label"], frame["topic"]),
                     "ami_single_label": ami(single["label"], single["topic"]),
                     "single_label_docs": single.height,
                     "ami_single_within_company": float(np.mean(per_company)),
                     "topics": model.names[:k]})
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["# Topics (NMF over TF-IDF) against the 900 labelled support tweets", "",
             "    .venv/bin/python -m bench.topics", "",
             "| k | AMI all 900 (first flag / none) | AMI single-label docs | "
             "AMI single-label, within company (mean) |", "|---:|---:|---:|---:|"]
    for t in rows:
        lines.append(f"| {t['k']} | {t['ami_all_900']:.3f} | {t['ami_single_label']:.3f} "
                     f"({t['single_label_docs']}) | {t['ami_single_within_company']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    args = parser.parse_args()
    rows = topic_ami(args.data_dir)
    common.write_results("topics", rows, markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()
