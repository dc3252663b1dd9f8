"""What several test modules share: the real-data location and small hand-made input files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("SENTREC_DATA_DIR", REPO.parent / "shared" / "data"))


def data_file(*parts: str) -> Path:
    """A file of the real datasets, or a skip that says where they were looked for."""
    path = DATA_DIR.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real dataset {path} not found: set SENTREC_DATA_DIR to the data folder")
    return path


POSITIVE = ["profit rose sharply", "great service thanks", "sales grew strongly",
            "record earnings this quarter", "very happy with the upgrade"]
NEGATIVE = ["profit fell sharply", "terrible delay again", "sales dropped badly",
            "heavy losses this quarter", "very angry about the lost bag"]
NEUTRAL = ["the meeting is on monday", "the report was published", "shares were traded",
           "the office is in helsinki", "the flight leaves at noon"]


def labelled_file(path: Path) -> Path:
    """60 canonical messages, 20 per sentiment label, over four days."""
    rows = ["message_id,text,created_at,entity,label"]
    n = 0
    for repeat in range(4):
        for label, texts in (("positive", POSITIVE), ("negative", NEGATIVE),
                             ("neutral", NEUTRAL)):
            for text in texts:
                rows.append(f"m{n},{text} {repeat},2024-01-0{1 + repeat}T10:00:00Z,acme,{label}")
                n += 1
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def events_file(path: Path, users: int = 40, items: int = 30, seed: int = 0) -> Path:
    """Users walk through items in runs (i, i+1, i+2, ...): a pattern a sequence model learns."""
    rng = np.random.default_rng(seed)
    lines = ["event_id,user_id,item_id,kind,occurred_at"]
    for user in range(users):
        start = int(rng.integers(0, items))
        for step in range(8):
            item = (start + step) % items
            lines.append(f"u{user}-{step},u{user},i{item},view,2024-01-01T00:{step:02d}:00Z")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# (brand, customer tweet, brand reply): two Delta replies share one template.
SUPPORT_THREADS = [
    ("Delta", "my bag is lost after the flight", "Sorry about your bag! DM us the tag number. ^JK"),
    ("Delta", "lost luggage at JFK, nobody helps", "Sorry about your bag! DM us the tag "
     "number. ^AB"),
    ("Delta", "my flight was cancelled, I want a refund", "Request a refund here: "
     "https://t.co/refund"),
    ("AppleSupport", "my iphone battery drains very fast", "Let's look at your battery: "
     "which iOS version do you have?"),
    ("AppleSupport", "the screen of my ipad is cracked", "We can repair the screen; book at "
     "https://t.co/repair"),
    ("SpotifyCares", "my playlist disappeared from the app", "Try logging out and back in, "
     "your playlists will come back."),
]


def support_threads_file(path: Path) -> Path:
    """A TWCS export: each customer tweet to a brand and the brand's reply, an hour apart."""
    lines = ["tweet_id,author_id,inbound,created_at,text,response_tweet_id,"
             "in_response_to_tweet_id"]
    for n, (brand, question, answer) in enumerate(SUPPORT_THREADS):
        ask, reply = 2 * n + 1, 2 * n + 2
        lines.append(f'{ask},{100 + n},True,Tue Oct 31 {10 + n}:00:00 +0000 2017,'
                     f'"@{brand} {question}",{reply},')
        lines.append(f'{reply},{brand},False,Tue Oct 31 {10 + n}:30:00 +0000 2017,'
                     f'"@{100 + n} {answer}",,{ask}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
