"""The item index: exact search equals brute force; stale, foreign or altered files are refused
unless they are exactly what the recorded checksum says."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.index import IndexMismatchError, build_index, index_kind, load_index, save_index


def vectors(n: int = 500, dim: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def test_exact_search_equals_brute_force() -> None:
    items = vectors()
    ids = [f"item-{i}" for i in range(len(items))]
    queries = vectors(37, seed=1)
    index = build_index(items, ids, model_version_id=1)
    scores, found = index.search(queries, 10)
    brute = queries @ items.T  # (Q, N)
    expected = np.argsort(-brute, axis=1)[:, :10]
    assert found == [[ids[j] for j in row] for row in expected]
    assert np.allclose(scores, np.take_along_axis(brute, expected, axis=1), atol=1e-4)


def test_ivf_index_finds_most_true_neighbours() -> None:
    items = vectors(4_000, 16)
    ids = [str(i) for i in range(len(items))]
    queries = items[:100] + 0.01
    index = build_index(items, ids, model_version_id=1, kind="ivf", nprobe=64)
    _, found = index.search(queries, 10)
    truth = np.argsort(-(queries @ items.T), axis=1)[:, :10]
    recall = np.mean([len(set(f) & {ids[j] for j in t}) / 10 for f, t in zip(found, truth,
                                                                             strict=True)])
    assert recall >= 0.9


def test_kind_follows_catalogue_size() -> None:
    assert [index_kind(n) for n in (10, 100_000, 100_001, 5_000_000)] == [
        "flat", "flat", "ivf", "hnsw"]


def test_round_trip_keeps_ids_and_results(tmp_path: Path) -> None:
    items = vectors()
    ids = [f"i{i}" for i in range(len(items))]
    index = build_index(items, ids, model_version_id=7)
    digest = save_index(index, tmp_path / "items.faiss")
    loaded = load_index(tmp_path / "items.faiss", model_version_id=7, sha256=digest)
    assert loaded.item_ids == ids
    assert index.search(items[:5], 3)[1] == loaded.search(items[:5], 3)[1]


def test_index_of_another_model_version_is_refused(tmp_path: Path) -> None:
    digest = save_index(build_index(vectors(), [str(i) for i in range(500)],
                                    model_version_id=7), tmp_path / "items.faiss")
    with pytest.raises(IndexMismatchError, match="built for model version 7"):
        load_index(tmp_path / "items.faiss", model_version_id=8, sha256=digest)


def test_an_index_without_a_recorded_checksum_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "items.faiss"
    save_index(build_index(vectors(), [str(i) for i in range(500)], model_version_id=1), path)
    with pytest.raises(IndexMismatchError, match="no checksum is recorded"):
        load_index(path, model_version_id=1, sha256=None)


def test_a_replaced_index_with_its_own_checksum_beside_it_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "items.faiss"
    ids = [str(i) for i in range(500)]
    recorded = save_index(build_index(vectors(seed=0), ids, model_version_id=1), path)
    # Someone puts other vectors in its place and writes their checksum into the sidecar.
    save_index(build_index(vectors(seed=1), ids, model_version_id=1), path)
    with pytest.raises(IndexMismatchError, match="does not match the recorded"):
        load_index(path, model_version_id=1, sha256=recorded)


def test_a_reordered_id_map_is_refused(tmp_path: Path) -> None:
    """The id map names the items a row stands for: swapping two ids would serve wrong items
    from an untouched index file."""
    path = tmp_path / "items.faiss"
    recorded = save_index(build_index(vectors(), [str(i) for i in range(500)],
                                      model_version_id=1), path)
    sidecar = path.with_name("items.faiss.json")
    meta = json.loads(sidecar.read_text())
    meta["item_ids"][0], meta["item_ids"][1] = meta["item_ids"][1], meta["item_ids"][0]
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(IndexMismatchError, match="does not match the recorded"):
        load_index(path, model_version_id=1, sha256=recorded)


@pytest.mark.parametrize("garbage", [b"", b'{"sha256": "ab', b"\x00\xff not json"])
def test_a_truncated_or_garbage_sidecar_is_refused(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "items.faiss"
    recorded = save_index(build_index(vectors(), [str(i) for i in range(500)],
                                      model_version_id=1), path)
    path.with_name("items.faiss.json").write_bytes(garbage)
    with pytest.raises(IndexMismatchError, match="does not match the recorded"):
        load_index(path, model_version_id=1, sha256=recorded)


def test_altered_index_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "items.faiss"
    digest = save_index(build_index(vectors(), [str(i) for i in range(500)],
                                    model_version_id=1), path)
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IndexMismatchError, match="sha256"):
        load_index(path, model_version_id=1, sha256=digest)
