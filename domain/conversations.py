"""Support conversations as (customer turn, agent reply) pairs, and reply templates.

The store keeps each message with its ``conversation_id`` and ``author_role`` (the TWCS
adapter links replies into threads), not the reply links themselves, so a thread is read in
time order: the customer messages since the last agent message form one turn, and the agent
messages that follow it, up to the customer's next message, form its reply (brands often
answer in two tweets). An agent message with no customer turn before it (a thread the brand
opened, or one whose customer tweet is not in the store) answers nothing and makes no pair.

Texts arrive redacted (the adapters redact before anything is stored); cleaning here only
takes out what says nothing about the case: handles (the brand is the pair's entity, customers
are anonymised numbers) and HTML escapes.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import polars as pl

PAIR_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "conversation_id": pl.String(),
    "entity": pl.String(),
    "turn_id": pl.String(),  # the last customer message of the turn
    "reply_id": pl.String(),  # the first agent message of the reply
    "turn_at": pl.Datetime("us", "UTC"),
    "customer_text": pl.String(),
    "reply_text": pl.String(),
}

_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+|www\.\S+")
# Agent sign-offs: "^JK", "*TJ", "-Becky", "- Sam", "/CM", "~AB" at the end of a reply.
_SIGNATURE = re.compile(r"\s*(?:[\^*~/]\s?[a-z]{1,4}|[-\u2013\u2014]\s?[a-z]{2,12})\s*$")
# A name after a greeting or thanks at the start: "Hi Sarah," "Thanks, Tom!" "Hey there".
_GREETING = re.compile(r"^(hi|hey|hello|dear|thanks|thank you|sorry)[,!]?\s+[a-z]+(?=[,!.:])")
_PLACEHOLDER = re.compile(r"\[(?:email|phone|card|iban)\]|__email__|\bid-[0-9a-f]{6,}\b")
_NUMBER = re.compile(r"\d+(?:[.,:]\d+)*")
_NON_WORD = re.compile(r"[^\w<>]+")


def clean_turn(text: str) -> str:
    """The words of a tweet: HTML escapes undone, handles and extra spaces removed."""
    return " ".join(_MENTION.sub(" ", html.unescape(text)).split())


def reply_template(text: str) -> str:
    """The reply with what changes from customer to customer taken out (names after a
    greeting, handles, links, numbers, redaction placeholders, the agent's signature), so
    that replies sent from one template share one key."""
    t = clean_turn(text).lower()
    t = _SIGNATURE.sub("", _URL.sub(" <url> ", t))
    t = _GREETING.sub(r"\1 <name>", t)
    t = _NUMBER.sub("<num>", _PLACEHOLDER.sub("<pii>", t))
    return " ".join(_NON_WORD.sub(" ", t).split())


@dataclass
class _Open:
    """The pair a thread is building: the turn so far and the reply so far."""

    customer: list[str]
    turn_id: str
    turn_at: datetime
    entity: str | None
    reply: list[str]
    reply_id: str | None = None


def pair_turns(messages: pl.DataFrame) -> pl.DataFrame:
    """(customer turn, agent reply) pairs of every thread in ``messages``.

    ``messages`` has the canonical message columns (at least source, message_id,
    conversation_id, author_role, entity, created_at, text). The pair's entity is the brand
    that replied (the agent message's entity), else the one the customer addressed.
    """
    rows = messages.sort(["source", "conversation_id", "created_at", "message_id"])
    pairs: list[dict[str, object]] = []
    for (source, conversation), thread in rows.group_by(
            ["source", "conversation_id"], maintain_order=True):
        for pair in _thread_pairs(thread.iter_rows(named=True)):
            pairs.append({"source": source, "conversation_id": conversation,
                          "entity": pair.entity, "turn_id": pair.turn_id,
                          "reply_id": pair.reply_id, "turn_at": pair.turn_at,
                          "customer_text": " ".join(pair.customer),
                          "reply_text": " ".join(pair.reply)})
    return pl.DataFrame(pairs, schema=PAIR_SCHEMA)


def _thread_pairs(thread: Iterable[dict[str, object]]) -> list[_Open]:
    """Walk one thread in time order; see the module docstring for the rule."""
    done: list[_Open] = []
    current: _Open | None = None
    for row in thread:
        text = clean_turn(str(row["text"]))
        entity = row["entity"] if isinstance(row["entity"], str) else None
        at = row["created_at"]
        assert isinstance(at, datetime)
        if row["author_role"] == "customer":
            if current is None or current.reply_id is not None:
                current = _Open([], "", at, entity, [])
            if text:
                current.customer.append(text)
            current.turn_id = str(row["message_id"])
            current.turn_at = at
            current.entity = current.entity or entity
        elif current is not None and current.customer and text:
            if current.reply_id is None:
                current.reply_id = str(row["message_id"])
                current.entity = entity or current.entity
                done.append(current)
            current.reply.append(text)
    return done
