"""Planted personal data never reaches the store, in loaded rows or in rejected ones."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from domain.records import Stream
from flows.ingest import ingest_file
from storage.schema import Message, Reject

PLANTED = ["jane.doe@example.com", "+44 20 7946 0958", "(415) 555-2671",
           "4111 1111 1111 1111", "5500-0000-0000-0004", "GB82 WEST 1234 5698 7654 32",
           # National formats, other separators and Unicode forms
           "020 7946 0958", "07700 900123", "030 12345678", "01 23 45 67 89", "03-1234-5678",
           "0412 345 678", "4111.1111.1111.1111", "4111/1111/1111/1111",
           "DE89-3704-0044-0532-0130-00", "212\u00a0555\u00a00187", "555\u202f234\u202f5678",
           "\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 "
           "\uff11\uff11\uff11\uff11"]


def test_no_planted_value_survives_into_messages_or_rejects(engine: Engine,
                                                            tmp_path: Path) -> None:
    rows = ["message_id,text,created_at,entity"]
    for index, value in enumerate(PLANTED):
        rows.append(f'm{index},"please call or write: {value} thanks",2024-05-01T10:00:00Z,bank')
    # Rejected rows keep their raw text, so it must be redacted too.
    rows.append('m99,"card 4111111111111111 mail jane.doe@example.com",not-a-time,bank')
    path = tmp_path / "support.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    summary = ingest_file(engine=engine, stream=Stream.MESSAGES, path=path)
    assert (summary.loaded, summary.rejected) == (len(PLANTED), 1)
    with engine.connect() as connection:
        texts = connection.execute(select(Message.text)).scalars().all()
        raws = connection.execute(select(Reject.raw)).scalars().all()
    stored = "\n".join([*texts, *raws])
    digits = "".join(ch for ch in stored if ch.isdigit())
    for value in PLANTED:
        assert value not in stored
        # Nor in another spacing: the value's digits never appear in a row.
        value_digits = "".join(ch for ch in value if ch.isdigit())
        assert not value_digits or value_digits not in digits
    assert "4111111111111111" not in stored and "jane.doe" not in stored
    assert {"[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]"} <= {
        token for text in texts for token in ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]")
        if token in text}


def test_ids_holding_pii_are_stored_as_joinable_pseudonyms(engine: Engine,
                                                           tmp_path: Path) -> None:
    header = "message_id,conversation_id,created_at,entity,channel,text\n"
    for day, name in ((1, "monday.csv"), (2, "tuesday.csv")):
        (tmp_path / name).write_text(
            header + f"jane.doe@example.com/{day},whatsapp:+442079460958,"
            f"2024-05-0{day}T10:00:00Z,jane.doe@example.com,sms +44 20 7946 0958,hello\n",
            encoding="utf-8")
        ingest_file(engine=engine, stream=Stream.MESSAGES, path=tmp_path / name)
    with engine.connect() as connection:
        rows = connection.execute(select(Message.message_id, Message.conversation_id,
                                         Message.entity, Message.channel)
                                  .order_by(Message.created_at)).all()
    assert [tuple(row) for row in rows] == [
        ("pii:1bb4ce2036f46b9d", "pii:50e04bc89cbeaec1", "[EMAIL]", "sms [PHONE]"),
        ("pii:4c7495814f744141", "pii:50e04bc89cbeaec1", "[EMAIL]", "sms [PHONE]"),
    ]
