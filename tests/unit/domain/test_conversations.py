"""Threads become (customer turn, agent reply) pairs; replies from one template share a key."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from domain.conversations import pair_turns, reply_template


def thread(*rows: tuple[str, str, str, str | None, str],
           conversation: str = "c1") -> pl.DataFrame:
    """(message_id, author_role, minute, entity, text) rows of one conversation."""
    return pl.DataFrame([
        {"source": "twcs", "message_id": m, "conversation_id": conversation,
         "author_role": role, "entity": entity,
         "created_at": datetime(2017, 10, 31, 10, int(minute), tzinfo=UTC), "text": text}
        for m, role, minute, entity, text in rows])


def pairs_of(frame: pl.DataFrame) -> list[tuple[str, str, str | None]]:
    return list(pair_turns(frame).select("customer_text", "reply_text", "entity").iter_rows())


def test_multi_turn_thread_makes_one_pair_per_customer_turn() -> None:
    frame = thread(("1", "customer", "0", "Delta", "@Delta my bag is lost"),
                   ("2", "agent", "1", "Delta", "@115 Sorry! DM us the tag number. ^JK"),
                   ("3", "customer", "2", "Delta", "@Delta done, sent it"),
                   ("4", "agent", "3", "Delta", "@115 Thanks, we found it. ^JK"))
    assert pairs_of(frame) == [
        ("my bag is lost", "Sorry! DM us the tag number. ^JK", "Delta"),
        ("done, sent it", "Thanks, we found it. ^JK", "Delta")]


def test_consecutive_messages_join_into_one_turn_and_one_reply() -> None:
    frame = thread(("1", "customer", "0", "Uber_Support", "@Uber_Support charged twice"),
                   ("2", "customer", "1", "Uber_Support", "@Uber_Support for one ride"),
                   ("3", "agent", "2", "Uber_Support", "@9 Sorry to hear that. (1/2)"),
                   ("4", "agent", "3", "Uber_Support", "@9 Send us the receipt. (2/2)"))
    [row] = pair_turns(frame).to_dicts()
    assert row["customer_text"] == "charged twice for one ride"
    assert row["reply_text"] == "Sorry to hear that. (1/2) Send us the receipt. (2/2)"
    assert (row["turn_id"], row["reply_id"]) == ("2", "3")


def test_agent_first_thread_pairs_only_what_a_customer_asked() -> None:
    frame = thread(("1", "agent", "0", "Tesco", "@7 We have a new offer!"),
                   ("2", "customer", "1", "Tesco", "@Tesco is it in store too?"),
                   ("3", "agent", "2", "Tesco", "@7 Yes, in every store."))
    assert pairs_of(frame) == [("is it in store too?", "Yes, in every store.", "Tesco")]


def test_reply_whose_customer_tweet_is_missing_makes_no_pair() -> None:
    orphan = thread(("9", "agent", "0", "Delta", "@5 Glad we could help"), conversation="c2")
    unanswered = thread(("8", "customer", "0", "Delta", "@Delta hello?"), conversation="c3")
    assert pair_turns(pl.concat([orphan, unanswered])).is_empty()


def test_reply_brand_is_the_entity_when_the_customer_named_none() -> None:
    frame = thread(("1", "customer", "0", None, "@115 my order never came"),
                   ("2", "agent", "1", "AmazonHelp", "@115 Let's look into it."))
    assert pairs_of(frame) == [("my order never came", "Let's look into it.", "AmazonHelp")]


def test_replies_from_one_template_share_a_key() -> None:
    first = reply_template("@115712 Hi Sarah, please DM us your booking 12345 here: "
                           "https://t.co/abc ^JK")
    second = reply_template("@99 Hi Tom, please DM us your booking 777 here: "
                            "https://t.co/xyz -Becky")
    assert first == second == "hi <name> please dm us your booking <num> here <url>"
    assert reply_template("Sorry, please DM us your booking") != first
