"""The formats each stream's adapter reads: what ``--format`` accepts, checked by the CLI at
once (each adapter's ``FORMATS`` is built from these)."""

from __future__ import annotations

from enum import StrEnum


class MessageFormat(StrEnum):
    AIRLINE_TWEETS = "airline-tweets"  # Twitter US Airline Sentiment, Tweets.csv
    TWCS = "twcs"  # Customer Support on Twitter
    TWCS_LABELLED = "twcs-labelled"  # TWCS exports with a company column and topic flags
    BANKING77 = "banking77"  # PolyAI Banking77 text,category files: intents to labels
    CANONICAL = "canonical"


class NewsFormat(StrEnum):
    HEADLINES = "headlines"  # CNBC / Guardian / Reuters date,headline files
    ANALYST_RATINGS = "analyst-ratings"  # Benzinga headlines with a ticker column
    PHRASEBANK = "phrasebank"  # Financial PhraseBank sentence@label files
    SENTFIN = "sentfin"  # SEntFiN 1.0 headlines with per-entity labels
    CANONICAL = "canonical"


class EventFormat(StrEnum):
    MOVIELENS = "movielens"  # u.data
    MOVIELENS_DAT = "movielens-dat"  # ratings.dat
    SEQUENCE = "sequence"  # one line per user: uid item item ...
    ONLINE_RETAIL = "online-retail"  # UCI Online Retail
    CANONICAL = "canonical"


class ItemFormat(StrEnum):
    MOVIELENS_ITEMS = "movielens-items"  # u.item
    MOVIELENS_MOVIES = "movielens-movies"  # movies.dat
    ONLINE_RETAIL = "online-retail"
    CANONICAL = "canonical"
