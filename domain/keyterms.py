"""What changed in an alert window: the words and topics an entity's documents use more than
usual, so an analyst sees at a glance what the surge is about.

Words are ranked by the weighted log-odds ratio with an informative Dirichlet prior of Monroe,
Colaresi & Quinn (2008, "Fightin' Words", Political Analysis 16:372), comparing the alert
window's documents with the entity's baseline documents, the prior being every monitored
document's word counts: for word w with counts y_w in the window (total n) and y'_w in the
baseline (n'), and prior counts a_w (total a0),

    delta_w = log((y_w + a_w) / (n + a0 - y_w - a_w)) - log((y'_w + a_w) / (n' + a0 - y'_w - a_w))
    z_w = delta_w / sqrt(1 / (y_w + a_w) + 1 / (y'_w + a_w)).

with the prior a_w the corpus frequency of w scaled to a0 = the larger of n and n' (a prior
as informative as the larger sample). It shrinks rare words (a word seen twice is not news)
and lets common ones speak only when they really move. A word needs ``min_count`` uses in the
window and z above 1.96.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# A short English stop list (function words and chat filler) so terms carry content.
_STOP_TEXT = """
a about above after again against all also am an and any are aren't as at be because been
before being below between both but by can can't cannot could couldn't did didn't do does
doesn't doing don't dont during each few for from further get got had hadn't has hasn't
have haven't having he her here hers herself him himself his how i i'm im if in into is isn't
it it's its itself just let's me more most my myself no nor not now of off on once only or
other our ours ourselves out over own same she should shouldn't so some such than that that's
the their theirs them themselves then there there's these they they're this those through to
too under until up us very via was wasn't we we're were weren't what what's when where which
while who who's whom why will with won't would wouldn't you you're your yours yourself
yourselves still yet ever even really amp rt hi hey thanks thank thx pls plz lol ok okay
one two get going gonna want need know think today yesterday tomorrow day time
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
# Stop words that carry sentiment all the same: negations, degree and repetition, direction and
# thanks. Every other stop word is a function word, which a highlight never shows.
_SENTIMENT_TEXT = """
not no never nor cannot can't won't don't dont didn't doesn't isn't wasn't aren't weren't
couldn't wouldn't shouldn't hasn't haven't hadn't again still yet ever very too down off
against only even really up thanks thank thx
"""
FUNCTION_WORDS = STOP_WORDS - frozenset(_SENTIMENT_TEXT.split())
_NOISE = re.compile(r"^\s*rt\s+@\w+:?|https?://\S+|www\.\S+|@\w+|#|\[[A-Z_]+\]|&\w+;")
_WORD = re.compile(r"[a-z][a-z']+")


def words(text: str) -> list[str]:
    """Content words of a text: lower case, at least three letters, no stop words, links,
    @handles, hashtag signs, redaction placeholders or numbers."""
    found = _WORD.findall(_NOISE.sub(" ", text).lower())
    stems = [w.removesuffix("'s").strip("'") for w in found]
    return [w for w in stems if len(w) >= 3 and w not in STOP_WORDS]


def word_counts(texts: Iterable[str]) -> Counter[str]:
    """How often each content word occurs in ``texts`` (the prior of a whole corpus)."""
    return Counter(w for text in texts for w in words(text))


def over_represented_terms(window: Sequence[str], baseline: Sequence[str],
                           prior: Mapping[str, int], *, top_n: int = 8, min_count: int = 3,
                           min_z: float = 1.96) -> list[dict[str, Any]]:
    """The ``top_n`` words the window's texts use more than the baseline's, by log-odds z;
    ``prior`` is ``word_counts`` of every monitored document."""
    counts = word_counts(window)
    usual = word_counts(baseline)
    n, n_usual, total = sum(counts.values()), sum(usual.values()), sum(prior.values())
    if not n or not n_usual or not total:
        return []
    a0 = max(n, n_usual)
    found: list[tuple[float, str, int]] = []
    for word, y in counts.items():
        if y < min_count:
            continue
        a = a0 * max(prior.get(word, 0), 1) / total
        delta = math.log((y + a) / (n + a0 - y - a)) - \
            math.log((usual[word] + a) / (n_usual + a0 - usual[word] - a))
        z = delta / math.sqrt(1.0 / (y + a) + 1.0 / (usual[word] + a))
        if z > min_z:
            found.append((z, word, y))
    found.sort(key=lambda t: (-t[0], t[1]))
    return [{"term": word, "z": round(z, 2), "window_count": y, "baseline_count": usual[word]}
            for z, word, y in found[:top_n]]


def over_represented_topics(window: Sequence[str | None], baseline: Sequence[str | None], *,
                            min_count: int = 3, min_ratio: float = 1.5,
                            min_gain: float = 0.1) -> list[dict[str, Any]]:
    """Topics that hold a larger share of the window than of the baseline (at least
    ``min_count`` documents, ``min_ratio`` times and ``min_gain`` more of the share)."""
    if not window or not baseline:
        return []
    counts, usual = Counter(window), Counter(baseline)
    found = []
    for topic, count in counts.items():
        if topic is None or count < min_count:
            continue
        share, usual_share = count / len(window), usual[topic] / len(baseline)
        if share >= min_ratio * usual_share and share - usual_share >= min_gain:
            found.append({"topic": topic, "window_share": round(share, 4),
                          "baseline_share": round(usual_share, 4), "window_count": count})
    return sorted(found, key=lambda t: (-float(t["window_share"]), str(t["topic"])))
