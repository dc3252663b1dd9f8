"""Data contract of the real Banking77 files (``SENTREC_DATA_DIR``): every row a customer
message with one of the 77 intents, stored as ``intent`` labels beside no sentiment."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from domain.adapters.messages import detect_message_format, parse_messages
from domain.readers import file_sha256
from domain.records import LabelKind
from storage.ingest import record_batch
from storage.scores import labelled_documents
from tests.helpers import data_file


def test_real_banking77_train_split() -> None:
    path = data_file("banking77", "train.csv")
    parsed = parse_messages(path)
    assert detect_message_format(path) == "banking77"
    assert (parsed.rows_read, parsed.records.height, parsed.rejects.height) == (10_003, 10_003, 0)
    # Four texts repeat once the line break some start with is trimmed: the store counts them
    # as duplicates, and each pair has one intent.
    assert parsed.records["message_id"].n_unique() == 9_999
    assert not parsed.records["text"].str.starts_with("\n").any()
    labels = parsed.labels
    assert labels.height == 9_999 and set(labels["kind"]) == {"intent"}
    intents = json.loads(data_file("banking77", "categories.json").read_text())
    # Intent names are stored in lower case: the file spells one "Refund_not_showing_up".
    assert sorted(set(labels["label"])) == sorted(name.lower() for name in intents)
    assert len(intents) == 77
    counts = dict(labels["label"].value_counts().iter_rows())
    assert (counts["contactless_not_working"], counts["card_payment_fee_charged"]) == (35, 187)


def test_real_banking77_test_split_lands_in_the_store_as_intent_labels(engine: Engine) -> None:
    path = data_file("banking77", "test.csv")
    parsed = parse_messages(path, source="banking77-test")
    summary = record_batch(engine=engine, parsed=parsed, path=path,
                           file_sha256=file_sha256(path), format=parsed.format)
    assert (summary.rows_read, summary.loaded, summary.duplicate) == (3_080, 3_079, 1)
    documents = labelled_documents(engine=engine, kind=LabelKind.INTENT)
    assert documents.height == 3_079
    per_intent = documents["label"].value_counts()["count"]
    # 40 queries per intent; "Which ATMs accept this card?" appears twice under atm_support.
    assert sorted(set(per_intent)) == [39, 40]
    assert labelled_documents(engine=engine).is_empty()  # no sentiment labels
