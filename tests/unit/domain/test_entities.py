"""Entity tagging of news headlines: cashtags, ticker columns, alias table."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from domain.entities import Aliases, load_aliases, tag_entities
from domain.errors import MalformedFileError


@pytest.fixture(scope="module")
def built_in() -> Aliases:
    return load_aliases(None)


def tags(headlines: list[str | None], aliases: Aliases,
         tickers: list[str | None] | None = None) -> list[list[str]]:
    series = None if tickers is None else pl.Series(tickers)
    result: list[list[str]] = tag_entities(pl.Series(headlines, dtype=pl.String), aliases,
                                           series).to_list()
    return result


def test_built_in_table_tags_common_names(built_in: Aliases) -> None:
    assert tags(["Apple and Google beat estimates",
                 "Alphabet's Google faces EU fine",
                 "Facebook , Amazon . com and JPMorgan rise",
                 "Rolls-Royce and Sainsbury's cut jobs",
                 "McDonald 's sales slip at Macy's too"], built_in) == [
        ["AAPL", "GOOGL"], ["GOOGL"], ["AMZN", "JPM", "META"], ["RR.L", "SBRY.L"],
        ["M", "MCD"]]


def test_short_names_match_case_sensitively_long_names_in_any_case(built_in: Aliases) -> None:
    assert tags(["an apple a day", "target practice", "ford the river",
                 "MICROSOFT and microsoft", "the alphabet song"], built_in) == [
        [], [], [], ["MSFT"], []]


def test_matches_whole_words_only(built_in: Aliases) -> None:
    assert tags(["Applebee's and Fordham and Pineapple", "GEICO and GEneral"], built_in) == [
        [], []]


def test_cashtags_and_ticker_column_are_merged_sorted_unique(built_in: Aliases) -> None:
    result = tags(["$AAPL jumps as Apple beats", "$BRK.B up $5", None, "Nothing here"],
                  built_in, ["msft|aapl", None, "A", " "])
    assert result == [["AAPL", "MSFT"], ["BRK.B"], ["A"], []]


def test_result_is_a_list_of_strings(built_in: Aliases) -> None:
    result = tag_entities(pl.Series(["Apple"]), built_in)
    assert result.dtype == pl.List(pl.String)


def test_custom_table_prefers_the_longest_alias(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("alias,entity,case\nAmerica,USA,\nBank of America,BAC,\n"
                    "widget co,WID,any\nAcme,ACME,exact\n", encoding="utf-8")
    aliases = load_aliases(path)
    assert tags(["Bank of America lends in America", "WIDGET CO falls", "ACME rises"],
                aliases) == [["BAC", "USA"], ["WID"], []]


def test_table_without_case_column_uses_the_length_rule(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("alias,entity\nBoeing,BA\nHoneywell,HON\n", encoding="utf-8")
    assert tags(["boeing and honeywell", "Boeing"], load_aliases(path)) == [["HON"], ["BA"]]


def test_table_missing_entity_column_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text("alias,ticker\nApple,AAPL\n", encoding="utf-8")
    with pytest.raises(MalformedFileError) as error:
        load_aliases(path)
    assert error.value.line == 1
    assert error.value.field == "entity"
    assert str(path) in str(error.value)


@pytest.mark.parametrize(("row", "problem"), [
    (",AAPL,", "the alias is empty"),
    ("Apple,,", "alias 'Apple' has no entity"),
    ("Apple,AAPL,sometimes", "case must be 'exact' or 'any', not 'sometimes'"),
])
def test_bad_table_rows_are_malformed_with_line(tmp_path: Path, row: str, problem: str) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text(f"alias,entity,case\nGoogle,GOOGL,\n{row}\n", encoding="utf-8")
    with pytest.raises(MalformedFileError) as error:
        load_aliases(path)
    assert error.value.line == 3
    assert error.value.problem == problem
