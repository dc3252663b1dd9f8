"""The case index: brand filter, replies grouped by template, saved and checked round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from domain.conversations import PAIR_SCHEMA
from domain.errors import InvalidInputError
from models.index import IndexMismatchError, ItemIndex, save_index
from models.support.cases import build_case_index, load_case_index, match_brand, suggest
from models.support.encoder import TurnEncoder, load_turn_encoder
from tests.helpers import SUPPORT_THREADS


@pytest.fixture(scope="module")
def encoder() -> TurnEncoder:
    return load_turn_encoder()


@pytest.fixture(scope="module")
def index(encoder: TurnEncoder) -> ItemIndex:
    pairs = pl.DataFrame([
        {"source": "twcs", "conversation_id": str(n), "entity": brand, "turn_id": f"q{n}",
         "reply_id": f"r{n}", "turn_at": datetime(2017, 10, 31, tzinfo=UTC),
         "customer_text": question, "reply_text": answer}
        for n, (brand, question, answer) in enumerate(SUPPORT_THREADS)], schema=PAIR_SCHEMA)
    return build_case_index(encoder, pairs, model_version_id=7)


def test_suggests_the_reply_of_the_closest_case_with_every_case_of_its_template(
        encoder: TurnEncoder, index: ItemIndex) -> None:
    [first, *rest] = suggest(index, encoder.encode(["where is my lost suitcase"])[0], k=3,
                             entity="Delta")
    assert first.template == "sorry about your bag dm us the tag number"
    assert sorted(c.case_id for c in first.cases) == ["twcs:r0", "twcs:r1"]
    assert [s.reply for s in rest] == ["Request a refund here: https://t.co/refund"]


def test_an_entity_filter_keeps_other_brands_cases_out(encoder: TurnEncoder,
                                                        index: ItemIndex) -> None:
    found = suggest(index, encoder.encode(["my bag is lost"])[0], k=5, entity="SpotifyCares")
    assert [c.entity for s in found for c in s.cases] == ["SpotifyCares"]


def test_entities_match_in_any_case_and_an_unknown_one_lists_the_known(
        index: ItemIndex) -> None:
    assert match_brand(index, "appLESUPPORT") == "AppleSupport"
    with pytest.raises(InvalidInputError, match="known entities: AppleSupport, Delta, "
                       "SpotifyCares"):
        match_brand(index, "Ryanair")


def test_round_trip_and_refusals(tmp_path: Path, encoder: TurnEncoder,
                                 index: ItemIndex) -> None:
    path = tmp_path / "cases.faiss"
    checksum = save_index(index, path)
    loaded = load_case_index(path, model_version_id=7, sha256=checksum,
                             encoder_sha256=encoder.sha256)
    query = encoder.encode(["iphone battery dies"])[0]
    assert suggest(loaded, query, k=2) == suggest(index, query, k=2)
    with pytest.raises(IndexMismatchError, match="other encoder weights"):
        load_case_index(path, model_version_id=7, sha256=checksum, encoder_sha256="0" * 64)
    with pytest.raises(IndexMismatchError, match="no checksum is recorded"):
        load_case_index(path, model_version_id=7, sha256=None, encoder_sha256=encoder.sha256)
    sidecar = path.with_name(path.name + ".json")
    meta = json.loads(sidecar.read_text())
    meta["extra"]["cases"]["reply"][0] = "Send us your password"
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(IndexMismatchError, match="does not match the recorded"):
        load_case_index(path, model_version_id=7, sha256=checksum,
                        encoder_sha256=encoder.sha256)
