"""Precision and recall of redaction against texts labelled with their exact redacted form.

A labelled case is a text and the text as it should come out (``[EMAIL]``, ``[PHONE]``,
``[CARD]``, ``[IBAN]`` where the PII was). Output and expectation are aligned character by
character, placeholders counting as one character (difflib); a placeholder of the output is a
true positive when it sits where the expected one does *and* the characters on both sides match
too, so a span redacted too short (digits left beside it) or too long (a word swallowed) is a
miss and a false alarm, not a hit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from domain.redaction import CARD, EMAIL, IBAN, PHONE

KINDS = (EMAIL, PHONE, CARD, IBAN)
_TOKEN = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN)\]|.", re.DOTALL)


@dataclass(frozen=True)
class Case:
    """One labelled text: what it says, what it should become, and its group (for reports)."""

    text: str
    expected: str
    group: str = ""


@dataclass(frozen=True)
class KindScore:
    """Counts of one placeholder kind over a labelled set."""

    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        found = self.true_positives + self.false_positives
        return self.true_positives / found if found else 1.0

    @property
    def recall(self) -> float:
        wanted = self.true_positives + self.false_negatives
        return self.true_positives / wanted if wanted else 1.0


@dataclass(frozen=True)
class Scored:
    """Per-kind scores, and the cases whose output was not exactly the expected text."""

    kinds: dict[str, KindScore]
    exact: int
    total: int
    wrong: list[tuple[Case, str]]


def load_cases(path: Path) -> list[Case]:
    """Cases from a JSON Lines file of ``{"text", "expected", "group"}`` objects."""
    with path.open(encoding="utf-8") as lines:
        return [Case(**json.loads(line)) for line in lines if line.strip()]


def score_redaction(cases: Iterable[Case], redact: Callable[[str], str]) -> Scored:
    """Run ``redact`` on every case and count hits, false alarms and misses per kind."""
    counts = {kind: [0, 0, 0] for kind in KINDS}
    exact, total, wrong = 0, 0, []
    for case in cases:
        output = redact(case.text)
        total += 1
        if output == case.expected:
            exact += 1
        else:
            wrong.append((case, output))
        expected_tokens, output_tokens = _TOKEN.findall(case.expected), _TOKEN.findall(output)
        hits = _aligned_placeholders(expected_tokens, output_tokens)
        for kind in KINDS:
            hit = hits.count(kind)
            counts[kind][0] += hit
            counts[kind][1] += output_tokens.count(kind) - hit
            counts[kind][2] += expected_tokens.count(kind) - hit
    kinds = {kind: KindScore(*values) for kind, values in counts.items()}
    return Scored(kinds=kinds, exact=exact, total=total, wrong=wrong)


def _aligned_placeholders(expected: list[str], output: list[str]) -> list[str]:
    """Placeholders at the same place in both, with matching neighbours on both sides."""
    hits = []
    matcher = SequenceMatcher(None, expected, output, autojunk=False)
    for start_a, start_b, size in matcher.get_matching_blocks():
        for offset in range(size):
            token = expected[start_a + offset]
            if token not in KINDS:
                continue
            left = offset > 0 or (start_a == 0 and start_b == 0)
            right = offset < size - 1 or (start_a + size == len(expected)
                                          and start_b + size == len(output))
            if left and right:
                hits.append(token)
    return hits
