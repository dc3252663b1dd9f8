"""The SEntFiN adapter: per-entity labels become a document label only where they all agree.

Small files written here check exact records, labels and rejects; the real file's contract is
in ``tests/contract/test_news_files.py``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest

from domain.adapters.news import detect_news_format, parse_news

HEADER = "S No.,Title,Decisions,Words\n"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def write(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "SEntFiN.csv"
    path.write_text(HEADER + "".join(f"{row}\n" for row in rows), encoding="utf-8")
    return path


def labels_of(path: Path) -> dict[str, str]:
    parsed = parse_news(path, fmt="sentfin")
    return dict(zip(parsed.labels["doc_id"], parsed.labels["label"], strict=True))


def test_unanimous_entities_label_the_headline(tmp_path: Path) -> None:
    path = write(tmp_path,
                 '1,Gold and silver shine,"{""Gold"": ""positive"", ""silver"": ""positive""}",4',
                 '2,MMTC Q2 net loss at Rs 10.4 crore,"{""MMTC"": ""neutral""}",8')
    assert detect_news_format(path) == "sentfin"
    parsed = parse_news(path)
    assert (parsed.source, parsed.format, parsed.rows_read) == ("sentfin", "sentfin", 2)
    assert parsed.records.select("news_id", "headline", "published_at").rows() == [
        (sha1("Gold and silver shine"), "Gold and silver shine", None),
        (sha1("MMTC Q2 net loss at Rs 10.4 crore"), "MMTC Q2 net loss at Rs 10.4 crore", None),
    ]
    assert parsed.labels.select("doc_id", "label", "origin").rows() == [
        (sha1("Gold and silver shine"), "positive", "sentfin"),
        (sha1("MMTC Q2 net loss at Rs 10.4 crore"), "neutral", "sentfin"),
    ]


def test_disagreeing_entities_leave_the_headline_unlabelled(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mixed = '"{""Gold"": ""positive"", ""Silver"": ""negative""}"'
    path = write(tmp_path, f"1,Gold shines; Silver dull,{mixed},4",
                 '2,Sensex ends flat,"{""Sensex"": ""neutral""}",3')
    with caplog.at_level(logging.INFO, logger="domain.adapters.sentfin"):
        parsed = parse_news(path, fmt="sentfin")
    assert parsed.records["headline"].to_list() == ["Gold shines; Silver dull", "Sensex ends flat"]
    assert parsed.rejects.is_empty()
    assert labels_of(path) == {sha1("Sensex ends flat"): "neutral"}
    assert "1 of 2 distinct headlines have no document label" in caplog.text


def test_duplicate_titles_are_one_document_labelled_only_when_copies_agree(
        tmp_path: Path) -> None:
    path = write(tmp_path,
                 '1,Infosys rallies,"{""Infosys"": ""positive""}",2',
                 '2,Infosys rallies,"{""Infosys"": ""positive""}",2',
                 '3,Asian shares flat,"{""Asian shares"": ""neutral""}",3',
                 '4,Asian shares flat,"{""Asian shares"": ""negative""}",3')
    parsed = parse_news(path, fmt="sentfin")
    assert parsed.records["news_id"].to_list() == [
        sha1("Infosys rallies"), sha1("Infosys rallies"),
        sha1("Asian shares flat"), sha1("Asian shares flat")]
    assert labels_of(path) == {sha1("Infosys rallies"): "positive"}


@pytest.mark.parametrize("decisions", [
    '"{""Gold"": ""positive"""',  # not JSON: cut short
    '"[""positive""]"',  # JSON, but not an object
    '"{}"',  # no entity at all
    '"{""Gold"": ""bullish""}"',  # a label the store does not know
])
def test_malformed_decisions_are_rejected_with_the_reason(tmp_path: Path,
                                                          decisions: str) -> None:
    path = write(tmp_path, f"1,Gold up,{decisions},2", '2,Sebi rules,"{""Sebi"": ""neutral""}",2')
    parsed = parse_news(path, fmt="sentfin")
    assert parsed.records["headline"].to_list() == ["Sebi rules"]
    assert parsed.rejects.rows() == [
        (2, f"1,Gold up,{decisions},2",
         "Decisions must be a JSON object of entity: negative, neutral or positive")]
    assert labels_of(path) == {sha1("Sebi rules"): "neutral"}
