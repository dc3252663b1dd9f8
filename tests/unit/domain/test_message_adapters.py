"""Message adapters: airline tweets, TWCS, labelled TWCS and canonical files.

Small hand-made files check exact records, rejects and labels; the real files' contracts are in
``tests/contract``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from hashlib import sha1
from pathlib import Path

import polars as pl
import pytest

from domain.adapters.messages import detect_message_format, parse_messages
from domain.errors import MalformedFileError, UnknownFormatError
from domain.records import MESSAGE_SCHEMA

AIRLINE_HEADER = ("tweet_id,airline_sentiment,airline_sentiment_confidence,negativereason,"
                  "negativereason_confidence,airline,airline_sentiment_gold,name,"
                  "negativereason_gold,retweet_count,text,tweet_coord,tweet_created,"
                  "tweet_location,user_timezone\n")
TWCS_HEADER = (",index,tweet_id,author_id,inbound,created_at,text,response_tweet_id,"
               "in_response_to_tweet_id\n")
LABELLED_HEADER = ("main_tweet_id,tweet_id,in_response_to_tweet_id,response_tweet_id,"
                   "created_at,author_id,inbound,text,company,Delivery,Prime\n")


def airline_row(tweet_id: str, label: str, confidence: str, text: str,
                created: str = "2015-02-24 11:35:52 -0800", airline: str = "United") -> str:
    return (f"{tweet_id},{label},{confidence},,,{airline},,someone,,0,{text},,{created},,"
            "Eastern Time (US & Canada)\n")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0,
        second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_airline_tweets_records_rejects_and_first_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "Tweets.csv", AIRLINE_HEADER
                 + airline_row("1001", "negative", "1.0",
                               '"@united lost my bag, call 555-234-5678 or jane@example.com"')
                 + airline_row("1002", "positive", "0.6", "@Delta thanks!",
                               "2015-02-23 08:00:00 -0800", "Delta")
                 + airline_row("1001", "neutral", "0.5", "@united lost my bag")
                 + airline_row("", "neutral", "1.0", "no id")
                 + airline_row("1004", "neutral", "1.0", "  ")
                 + airline_row("1005", "neutral", "1.0", "when?", "yesterday")
                 + airline_row("1006", "angry", "1.0", "grr")
                 + airline_row("1007", "neutral", "high", "hmm")
                 + airline_row("1008", "negative", "1.0",
                               '"two lines\ncard 4111 1111 1111 1111"', "nope"))
    assert detect_message_format(path) == "airline-tweets"
    parsed = parse_messages(path)
    assert (parsed.source, parsed.rows_read) == ("airline-tweets", 9)
    assert parsed.records.schema == pl.Schema(MESSAGE_SCHEMA)
    assert parsed.records.rows() == [
        ("airline-tweets", "1001", "1001", "customer", "United", "twitter",
         utc(2015, 2, 24, 19, 35, 52), "@united lost my bag, call [PHONE] or [EMAIL]"),
        ("airline-tweets", "1002", "1002", "customer", "Delta", "twitter",
         utc(2015, 2, 23, 16, 0, 0), "@Delta thanks!"),
        ("airline-tweets", "1001", "1001", "customer", "United", "twitter",
         utc(2015, 2, 24, 19, 35, 52), "@united lost my bag"),
    ]
    assert parsed.rejects.select("line", "reason").rows() == [
        (5, "missing tweet_id"),
        (6, "empty text"),
        (7, "unparseable time (tweet_created is 'yesterday')"),
        (8, "label must be negative, neutral or positive (airline_sentiment is 'angry')"),
        (9, "airline_sentiment_confidence must be a number from 0 to 1"),
        (10, "unparseable time (tweet_created is 'nope')"),
    ]
    raw = parsed.rejects["raw"][-1]
    assert raw.startswith("1008,") and "\ncard [CARD]" in raw and "4111" not in raw
    assert parsed.labels.rows() == [
        ("message", "airline-tweets", "1001", "sentiment", "negative", "airline-tweets", 1.0),
        ("message", "airline-tweets", "1002", "sentiment", "positive", "airline-tweets", 0.6),
    ]


def test_twcs_conversations_entities_and_rejects(tmp_path: Path) -> None:
    path = write(tmp_path / "support.csv", TWCS_HEADER
                 + "0,1,10,501,True,Tue Oct 31 22:10:47 +0000 2017,@SpotifyCares app crashes,11,\n"
                 + "1,2,12,501,True,Tue Oct 31 22:20:00 +0000 2017,@spotifycares still,13,11.0\n"
                 + '2,3,20,502,True,Wed Nov 01 07:40:06 +0000 2017,"@115890 @SpotifyCares '
                 'mail bob@example.org",21,30.0\n'
                 + "3,4,21,SpotifyCares,False,Wed Nov 01 07:45:00 +0000 2017,@502 DM us,22,20.0\n"
                 + "4,5,22,503,True,Wed Nov 01 08:00:00 +0000 2017,@503 hello,,21\n"
                 + "5,6,23,504,maybe,Wed Nov 01 08:00:00 +0000 2017,hi,,\n"
                 + "6,7,24,505,True,not a date,hi,,\n"
                 + '7,8,25,506,True,Tue Oct 31 22:10:47 +0000 2017,"@SpotifyCares a\rb",,\n')
    assert detect_message_format(path) == "twcs"
    parsed = parse_messages(path)
    assert (parsed.source, parsed.rows_read) == ("twcs", 8)
    assert parsed.records.select("message_id", "conversation_id", "author_role", "entity",
                                 "created_at", "text").rows() == [
        ("10", "10", "customer", "SpotifyCares", utc(2017, 10, 31, 22, 10, 47),
         "@SpotifyCares app crashes"),
        # 12 answers 11, absent from the file, which 10 lists among its responses.
        ("12", "10", "customer", "SpotifyCares", utc(2017, 10, 31, 22, 20), "@spotifycares still"),
        ("20", "20", "customer", "SpotifyCares", utc(2017, 11, 1, 7, 40, 6),
         "@115890 @SpotifyCares mail [EMAIL]"),
        ("21", "20", "agent", "SpotifyCares", utc(2017, 11, 1, 7, 45), "@502 DM us"),
        # No named mention: the entity comes from the agent tweet it answers.
        ("22", "20", "customer", "SpotifyCares", utc(2017, 11, 1, 8), "@503 hello"),
        ("25", "25", "customer", "SpotifyCares", utc(2017, 10, 31, 22, 10, 47),
         "@SpotifyCares a\rb"),
    ]
    assert parsed.rejects.select("line", "reason").rows() == [
        (7, "inbound must be True or False (inbound is 'maybe')"),
        (8, "unparseable time (created_at is 'not a date')"),
    ]
    assert parsed.labels.is_empty()


def test_twcs_labelled_uses_company_and_main_tweet(tmp_path: Path) -> None:
    path = write(tmp_path / "twcs-AmazonHelp-2.csv", LABELLED_HEADER
                 + "100,100,,101,2017-10-23 22:55:01+00:00,380010,True,@115821 parcel?,"
                 "AmazonHelp,1.0,\n"
                 + "100,101,100.0,,2017-10-23 23:00:00+00:00,AmazonHelp,False,@380010 sorry ^HN,"
                 "AmazonHelp,,\n")
    assert detect_message_format(path) == "twcs-labelled"
    parsed = parse_messages(path)
    assert parsed.source == "twcs-labelled"
    assert parsed.records.select("message_id", "conversation_id", "author_role", "entity",
                                 "created_at").rows() == [
        ("100", "100", "customer", "AmazonHelp", utc(2017, 10, 23, 22, 55, 1)),
        ("101", "100", "agent", "AmazonHelp", utc(2017, 10, 23, 23, 0)),
    ]
    assert parsed.rejects.is_empty() and parsed.labels.is_empty()


CANONICAL = (
    "message_id,conversation_id,author_role,entity,channel,created_at,text,label\n"
    "m1,c1,customer,Acme,email,2024-03-01T10:00:00Z,my card 4111-1111-1111-1111,negative\n"
    "m2,,Agent,Acme,email,2024-03-01 12:00:00+02:00,We refunded you,\n"
    "m3,,,,,2024-03-01T10:00:00.250,naive times are UTC,POSITIVE\n"
    "m4,,boss,,,2024-03-01,x,\n"
    "m5,,,,,2024-13-01,x,\n"
    "m6,,,,,2024-03-01,x,meh\n"
)


def test_canonical_csv(tmp_path: Path) -> None:
    path = write(tmp_path / "Chat_Export.csv", CANONICAL)
    assert detect_message_format(path) == "canonical"
    parsed = parse_messages(path)
    assert parsed.source == "canonical"
    assert parsed.records.rows() == [
        ("canonical", "m1", "c1", "customer", "Acme", "email", utc(2024, 3, 1, 10),
         "my card [CARD]"),
        ("canonical", "m2", "m2", "agent", "Acme", "email", utc(2024, 3, 1, 10),
         "We refunded you"),
        ("canonical", "m3", "m3", "customer", None, None,
         datetime(2024, 3, 1, 10, 0, 0, 250_000, tzinfo=UTC), "naive times are UTC"),
    ]
    assert parsed.rejects.select("line", "reason").rows() == [
        (5, "author_role must be customer or agent (author_role is 'boss')"),
        (6, "unparseable time (created_at is '2024-13-01')"),
        (7, "label must be negative, neutral or positive (label is 'meh')"),
    ]
    assert parsed.labels.rows() == [
        ("message", "canonical", "m1", "sentiment", "negative", "canonical", None),
        ("message", "canonical", "m3", "sentiment", "positive", "canonical", None),
    ]


def test_canonical_intent_column_gives_intent_labels_beside_sentiment(tmp_path: Path) -> None:
    long_name = "x" * 65
    path = write(tmp_path / "chats.csv", (
        "message_id,created_at,text,label,intent\n"
        "m1,2024-03-01,where is my card,negative, Card_Arrival \n"
        "m2,2024-03-01,thanks,positive,\n"
        f"m3,2024-03-01,hello,,{long_name}\n"))
    parsed = parse_messages(path)
    assert parsed.labels.select("doc_id", "kind", "label").rows() == [
        ("m1", "sentiment", "negative"), ("m2", "sentiment", "positive"),
        ("m1", "intent", "card_arrival")]
    assert parsed.rejects.select("line", "reason").rows() == [
        (4, "intent must be 1 to 64 characters")]


def test_banking77_rows_are_customer_messages_with_an_intent(tmp_path: Path) -> None:
    path = write(tmp_path / "train.csv", 'text,category\n"\nHow do I unblock my PIN?",'
                 "pin_blocked\nmy card 4111 1111 1111 1111 was taken,card_swallowed\n"
                 "no intent here,\n")
    parsed = parse_messages(path)
    assert parsed.format == "banking77"
    assert parsed.records.select("author_role", "created_at", "text").rows() == [
        ("customer", utc(2020, 2, 18), "How do I unblock my PIN?"),
        ("customer", utc(2020, 2, 18), "my card [CARD] was taken")]
    assert parsed.labels.select("kind", "label", "origin").rows() == [
        ("intent", "pin_blocked", "banking77"), ("intent", "card_swallowed", "banking77")]
    assert parsed.rejects.select("line", "reason").rows() == [(5, "missing category")]
    # Ids are hashes of the redacted text: no card number can be recovered from them.
    assert parsed.records["message_id"][1] == sha1(b"my card [CARD] was taken").hexdigest()


PII_COLUMNS = (
    "message_id,conversation_id,author_role,entity,channel,created_at,text,label\n"
    "jane.doe@example.com/1,whatsapp:+442079460958,customer,jane.doe@example.com,"
    "sms +44 20 7946 0958,2024-03-01T10:00:00Z,hi,negative\n"
    "jane.doe@example.com/2,whatsapp:+442079460958,agent,Acme,web,2024-03-01T10:05:00Z,ok,\n"
    "4111111111111111-chat,DE89370400440532013000,customer,Acme,web,2024-03-01T11:00:00Z,"
    "help,positive\n"
    "m5,c5,customer,Acme,web,2024-03-01T12:00:00Z,thanks,\n"
    "jane.doe@example.com/6,whatsapp:+442079460958,customer,Acme,web,not a time,x,\n"
)


def test_pii_in_ids_entity_and_channel_is_pseudonymised_or_replaced(tmp_path: Path) -> None:
    parsed = parse_messages(write(tmp_path / "chats.csv", PII_COLUMNS))
    thread = "pii:50e04bc89cbeaec1"  # whatsapp:+442079460958, on both of its rows
    assert parsed.records.select("message_id", "conversation_id", "entity", "channel").rows() == [
        ("pii:1bb4ce2036f46b9d", thread, "[EMAIL]", "sms [PHONE]"),
        ("pii:4c7495814f744141", thread, "Acme", "web"),
        ("pii:5b3a9ab4f6440380", "pii:1d3a804c7c7248d7", "Acme", "web"),
        ("m5", "c5", "Acme", "web"),
    ]
    assert parsed.labels.select("doc_id", "label").rows() == [
        ("pii:1bb4ce2036f46b9d", "negative"), ("pii:5b3a9ab4f6440380", "positive")]
    assert parsed.rejects.select("line", "raw").rows() == [
        (6, "[EMAIL]/6,whatsapp:[PHONE],customer,Acme,web,not a time,x,")]
    stored = str(parsed.records.rows()) + str(parsed.labels.rows()) + str(parsed.rejects.rows())
    for value in ("jane.doe", "2079460958", "20 7946 0958", "4111111111111111",
                  "DE89370400440532013000"):
        assert value not in stored


def test_canonical_jsonl_and_parquet_match_csv(tmp_path: Path) -> None:
    rows = [{"message_id": 7, "text": "call +44 20 7946 0958", "created_at": "2024-03-01",
             "author_role": "agent", "entity": "Acme"},
            {"message_id": 8, "text": "ok", "created_at": "2024-03-02T00:00:00+01:00"}]
    jsonl = tmp_path / "chats.jsonl"
    pl.DataFrame(rows).write_ndjson(jsonl)
    parquet = tmp_path / "chats.parquet"
    pl.DataFrame(rows).write_parquet(parquet)
    expected = [("canonical", "7", "7", "agent", "Acme", None, utc(2024, 3, 1), "call [PHONE]"),
                ("canonical", "8", "8", "customer", None, None, utc(2024, 3, 1, 23), "ok")]
    for path in (jsonl, parquet):
        assert detect_message_format(path) == "canonical"
        assert parse_messages(path).records.rows() == expected


def test_source_and_format_can_be_named(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", CANONICAL)
    parsed = parse_messages(path, fmt="canonical", source="helpdesk")
    assert parsed.source == "helpdesk"
    assert set(parsed.records["source"]) == {"helpdesk"}
    assert set(parsed.labels["origin"]) == {"helpdesk"}


def test_unknown_or_ambiguous_format_asks_for_format(tmp_path: Path) -> None:
    unknown = write(tmp_path / "a.csv", "id,body\n1,hi\n")
    with pytest.raises(UnknownFormatError, match="--format"):
        detect_message_format(unknown)
    both = write(tmp_path / "b.csv", "message_id,tweet_id,author_id,inbound,created_at,text\n")
    with pytest.raises(UnknownFormatError, match="twcs and canonical"):
        parse_messages(both)
    with pytest.raises(UnknownFormatError, match="unknown message format 'sms'"):
        parse_messages(unknown, fmt="sms")


def test_wrong_encoding_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "Tweets.csv", AIRLINE_HEADER + airline_row("1", "neutral", "1", "ok")
                 + airline_row("2", "neutral", "1", "caf\u00e9"), encoding="latin-1")
    with pytest.raises(MalformedFileError) as error:
        parse_messages(path, fmt="airline-tweets")
    assert error.value.line == 3
    assert re.search(r"Tweets\.csv, line 3: bytes are not valid utf-8", str(error.value))


def test_missing_column_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path / "Tweets.csv", AIRLINE_HEADER.replace(",tweet_created", ",created")
                 + airline_row("1", "neutral", "1", "ok"))
    with pytest.raises(MalformedFileError) as error:
        parse_messages(path, fmt="airline-tweets")
    assert "Tweets.csv, line 1, field 'tweet_created': missing column" in str(error.value)


def test_truncated_last_line_is_malformed(tmp_path: Path) -> None:
    path = write(tmp_path / "Tweets.csv", AIRLINE_HEADER + airline_row("1", "neutral", "1", "ok")
                 + '2,neutral,1,,,United,,x,,0,"@united my bag is')
    with pytest.raises(MalformedFileError) as error:
        parse_messages(path, fmt="airline-tweets")
    assert error.value.line == 3
    assert "Tweets.csv, line 3" in str(error.value)


def test_header_without_rows_is_malformed(tmp_path: Path) -> None:
    path = write(tmp_path / "Tweets.csv", AIRLINE_HEADER)
    with pytest.raises(MalformedFileError, match="no data rows"):
        parse_messages(path)


EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"


def test_airline_tweets_are_filed_under_the_airline_they_address(tmp_path: Path) -> None:
    """The published file puts @JetBlue tweets under "Delta"; the handle wins over the column
    only when the tweet does not mention the column's own airline."""
    path = write(tmp_path / "Tweets.csv", AIRLINE_HEADER
                 + airline_row("1", "negative", "1.0", "@JetBlue where is my bag", airline="Delta")
                 + airline_row("2", "neutral", "1.0", "@united @AmericanAir which is faster",
                               airline="American")
                 + airline_row("3", "positive", "1.0", "@Delta thanks!", airline="Delta")
                 + airline_row("4", "neutral", "1.0", "no handle at all", airline="Southwest")
                 + airline_row("5", "negative", "1.0", "@united_fan says hi", airline="United"))
    entities = parse_messages(path).records.sort("message_id")["entity"].to_list()
    assert entities == ["JetBlue", "American", "Delta", "Southwest", "United"]
