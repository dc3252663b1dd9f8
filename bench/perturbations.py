"""CheckList-style perturbations of a text (Ribeiro et al. 2020, "Beyond Accuracy").

Each takes a text and a seeded ``random.Random`` and returns the perturbed text, or None where
it does not apply (no word long enough for a typo, no auxiliary to negate, no known company).
They are test instruments, not product code: the robustness bench and the behavioural tests
share them. Invariance (INV): typos, casing, an emoji, a URL, an @mention, a company swap
should leave the label alone. Direction (DIR): negating a polar sentence should move it away
from its class.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

# Finnish companies PhraseBank talks about and the US airlines of the airline tweets: a swap
# replaces one with the next of its list.
COMPANIES = ("Nokia", "Elisa", "Kone", "Fiskars", "Stora Enso", "UPM-Kymmene", "Outokumpu",
             "Componenta", "Aspo", "Ruukki", "Talvivaara", "Finnair", "Metso", "Wartsila",
             "Sanoma", "YIT", "Cargotec", "Tieto", "Stockmann", "Konecranes", "Orion", "Raisio")
AIRLINES = ("United", "Delta", "American", "Southwest", "JetBlue", "USAirways",
            "VirginAmerica")
_NAMES = re.compile(r"\b(" + "|".join(re.escape(n) for n in COMPANIES + AIRLINES) + r")\b")
_AUXILIARY = re.compile(r"\b(is|are|was|were|will|would|can|could|should|has|have|had|does|"
                        r"do|did)\b(?! not\b)", re.IGNORECASE)
NEUTRAL_EMOJI = ("\U0001f4f0", "\U0001f4f1", "\U0001f552")  # newspaper, phone, clock
Perturbation = Callable[[str, random.Random], str | None]


def add_typos(text: str, rng: random.Random, n: int = 2) -> str | None:
    """Swap two neighbouring inner letters in up to ``n`` words of four letters or more."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return None
    for i in rng.sample(candidates, min(n, len(candidates))):
        word = words[i]
        j = rng.randrange(1, len(word) - 2)
        words[i] = word[:j] + word[j + 1] + word[j] + word[j + 2:]
    return " ".join(words)


def upper_case(text: str, rng: random.Random) -> str | None:
    """Shouting: the whole text in capitals."""
    return text.upper()


def add_emoji(text: str, rng: random.Random) -> str | None:
    """A neutral emoji (an object, not a face) at the end."""
    return f"{text} {rng.choice(NEUTRAL_EMOJI)}"


def add_url(text: str, rng: random.Random) -> str | None:
    """A link at the end, as tweets and news items carry."""
    return f"{text} https://t.co/{rng.randrange(16**8):08x}"


def add_mention(text: str, rng: random.Random) -> str | None:
    """An @mention of an account at the start."""
    return f"@user{rng.randrange(10_000)} {text}"


def swap_company(text: str, rng: random.Random) -> str | None:
    """Every known company or airline name replaced by the next of its list."""
    if not _NAMES.search(text):
        return None

    def other(match: re.Match[str]) -> str:
        names = COMPANIES if match.group(1) in COMPANIES else AIRLINES
        return names[(names.index(match.group(1)) + 1) % len(names)]
    return _NAMES.sub(other, text)


def negate(text: str, rng: random.Random) -> str | None:
    """"not" after the first auxiliary verb ("sales were up" -> "sales were not up")."""
    found = _AUXILIARY.search(text)
    if found is None:
        return None
    return f"{text[:found.end()]} not{text[found.end():]}"


INVARIANT: dict[str, Perturbation] = {
    "typos": add_typos, "upper case": upper_case, "emoji": add_emoji, "URL": add_url,
    "@mention": add_mention, "company swap": swap_company}
