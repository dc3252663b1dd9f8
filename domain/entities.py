"""Entity tagging for news: cashtags, explicit ticker columns and a company alias table.

The alias table is a CSV with columns ``alias,entity`` and an optional ``case`` column
(``exact`` or ``any``). When ``case`` is blank, an alias of eight or more characters that is not
all capitals matches in any case ("MICROSOFT", "microsoft"); shorter names and acronyms match
only as written, because "Apple", "Target", "Ford" or "GE" in lower case are ordinary words.
Aliases match whole words; where two aliases start at the same place the longer one wins
("Bank of America" before "America").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from domain.errors import MalformedFileError
from domain.readers import LINE, RAGGED, read_table

BUILT_IN_ALIASES = Path(__file__).parent / "data" / "aliases.csv"

# "$AAPL", "$BRK.B"; a dollar amount ("$5") is not a cashtag.
CASHTAG = r"\$[A-Z]{1,6}(?:\.[A-Z]{1,2})?\b"
# Long names are distinctive enough to match in any case; see the module docstring.
_ANY_CASE_MIN_LENGTH = 8


@dataclass(frozen=True)
class Aliases:
    """Company names to entities, split by how they match."""

    exact: dict[str, str]
    # Keys are lower case.
    any_case: dict[str, str]

    @property
    def exact_pattern(self) -> str | None:
        return _alternation(list(self.exact))

    @property
    def any_case_pattern(self) -> str | None:
        pattern = _alternation(list(self.any_case))
        return None if pattern is None else f"(?i){pattern}"


def load_aliases(path: Path | None = None) -> Aliases:
    """Read an alias table; ``None`` gives the built-in table of large listed companies."""
    source = BUILT_IN_ALIASES if path is None else path
    table = read_table(source)
    table.require(["alias", "entity"])
    frame = table.frame
    exact: dict[str, str] = {}
    any_case: dict[str, str] = {}
    for row in frame.iter_rows(named=True):
        alias, entity = (row["alias"] or "").strip(), (row["entity"] or "").strip()
        case = (row.get("case") or "").strip().lower()
        problem = row[RAGGED] or _row_problem(alias, entity, case)
        if problem:
            raise MalformedFileError(source, problem, line=row[LINE],
                                     hint="Each row needs alias,entity and optionally "
                                     "case (exact or any).")
        if case == "any" or (not case and _matches_any_case(alias)):
            any_case[alias.lower()] = entity
        else:
            exact[alias] = entity
    return Aliases(exact=exact, any_case=any_case)


def tag_entities(headlines: pl.Series, aliases: Aliases,
                 tickers: pl.Series | None = None) -> pl.Series:
    """Per headline, the sorted unique entities found: cashtags, aliases and given tickers.

    ``tickers`` holds explicit tickers per row, separated by ``|``, ``,`` or white space.
    """
    frame = pl.DataFrame({"headline": headlines.cast(pl.String)})
    headline = pl.col("headline").fill_null("")
    found: list[pl.Expr] = [
        headline.str.extract_all(CASHTAG).list.eval(pl.element().str.slice(1))]
    if aliases.exact_pattern is not None:
        found.append(headline.str.extract_all(aliases.exact_pattern).list.eval(
            pl.element().replace_strict(aliases.exact, return_dtype=pl.String)))
    if aliases.any_case_pattern is not None:
        found.append(headline.str.extract_all(aliases.any_case_pattern).list.eval(
            pl.element().str.to_lowercase().replace_strict(aliases.any_case,
                                                           return_dtype=pl.String)))
    if tickers is not None:
        frame = frame.with_columns(tickers.cast(pl.String).alias("tickers"))
        found.append(pl.col("tickers").fill_null("").str.to_uppercase()
                     .str.extract_all(r"[^|,;\s$]+"))
    combined = pl.concat_list(found).list.unique().list.sort()
    return frame.select(combined.alias("entities"))["entities"].cast(pl.List(pl.String))


def _alternation(names: list[str]) -> str | None:
    """One regex for all names, longest first, each bounded as a whole word."""
    if not names:
        return None
    parts = []
    for name in sorted(names, key=lambda n: (-len(n), n)):
        # \b only where the name starts or ends with a word character: "AT&T" ends in one,
        # "Macy's" too, but a name ending in "." would never be followed by a boundary.
        start = r"\b" if re.match(r"\w", name[0]) else ""
        end = r"\b" if re.match(r"\w", name[-1]) else ""
        parts.append(f"{start}{re.escape(name)}{end}")
    return "(?:" + "|".join(parts) + ")"


def _matches_any_case(alias: str) -> bool:
    return len(alias) >= _ANY_CASE_MIN_LENGTH and not alias.isupper()


def _row_problem(alias: str, entity: str, case: str) -> str | None:
    if not alias:
        return "the alias is empty"
    if not entity:
        return f"alias {alias!r} has no entity"
    if case not in ("", "exact", "any"):
        return f"case must be 'exact' or 'any', not {case!r}"
    return None
