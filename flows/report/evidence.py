"""The evidence of an alert as HTML: each document with the words behind its score shaded,
its story (new, or a copy of one first seen earlier) and its probability of being negative.

Where monitoring explained a document with its model (``flows.explain_evidence``), the shaded
words are those integrated gradients credit with pushing it toward negative, shown as found:
that explanation already leaves out placeholders, numbers, punctuation and function words.
Otherwise the stored pooling weights are shaded by rule: redaction placeholders ([USER], [URL] ...),
punctuation and function words are never highlighted, whatever weight the model gave them;
negations and words of degree or repetition ("not", "never", "again", "still", "too", "down")
are shaded, since they carry the sentiment.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from domain.keyterms import FUNCTION_WORDS
from flows.explain_evidence import HIGHLIGHTED_BY

_PLACEHOLDER = re.compile(r"^\[[A-Z_]+\]$")


def shown_highlights(highlights: Sequence[Sequence[Any]]) -> list[tuple[str, float]]:
    """The highlights worth shading: words, not placeholders, punctuation or stop words."""
    kept = []
    for token, weight in highlights:
        word = str(token).strip()
        if _PLACEHOLDER.match(word) or not re.search(r"\w", word) or \
                word.lower() in FUNCTION_WORDS or len(word) < 2:
            continue
        kept.append((word, float(weight)))
    return kept


def shaded_words(doc: Mapping[str, Any]) -> list[tuple[str, float]]:
    """A document's words to shade: its model attributions that push toward negative, or,
    without them, its stored pooling weights filtered by rule."""
    highlights = doc.get("highlights") or []
    if doc.get(HIGHLIGHTED_BY):
        return [(str(word), float(weight)) for word, weight in highlights if float(weight) > 0]
    return shown_highlights(highlights)


def highlight_text(text: str, highlights: Sequence[Sequence[Any]]) -> str:
    """The text as HTML with its pooling highlights shaded by rule (``shown_highlights``)."""
    return shade_text(text, shown_highlights(highlights))


def shade_text(text: str, words: Sequence[tuple[str, float]]) -> str:
    """The text as HTML with ``words`` shaded by weight (strongest = darkest)."""
    weights: dict[str, float] = {}
    for token, weight in words:
        key = token.lower()
        weights[key] = max(weights.get(key, 0.0), weight)
    top = max(weights.values(), default=0.0) or 1.0
    parts = []
    # Tweets arrive with HTML entities ("&amp;"); show the characters, then escape once.
    for piece in re.split(r"(\w[\w']*)", html.unescape(text)):
        found = weights.get(piece.lower())
        if found is None or not piece:
            parts.append(html.escape(piece))
        else:
            weight = found
            alpha = 0.15 + 0.7 * weight / top
            parts.append(f'<mark style="background:rgba(229,57,53,{alpha:.2f})" '
                         f'title="weight {weight:.3f}">{html.escape(piece)}</mark>')
    return "".join(parts)


def evidence_html(documents: Sequence[Mapping[str, Any]]) -> str:
    """The evidence documents, most telling first (as ``collect_evidence`` ranked them)."""
    if not documents:
        return '<p class="meta">No documents kept as evidence for this alert.</p>'
    out = []
    for doc in documents:
        shown = shaded_words(doc)
        top = max((w for _, w in shown), default=0.0) or 1.0
        chips = "".join(
            f'<span style="background:rgba(229,57,53,{0.15 + 0.7 * w / top:.2f})">'
            f"{html.escape(t)} {w:.2f}</span>" for t, w in shown)
        out.append(
            f'<div class="doc"><div class="head">{_doc_time(doc.get("created_at"))}'
            f' · p(negative) {float(doc.get("p_negative", 0)):.2f} · {_story(doc)}</div>'
            f'<div>{shade_text(str(doc.get("text", "")), shown)}</div>'
            + (f'<div class="chips meta">{_chips_label(doc)}: {chips}</div>' if chips
               else "") + "</div>")
    return "".join(out)


def _chips_label(doc: Mapping[str, Any]) -> str:
    if doc.get(HIGHLIGHTED_BY):
        return f"words that pushed it toward negative ({html.escape(str(doc[HIGHLIGHTED_BY]))})"
    return "words the model weighed"


def _story(doc: Mapping[str, Any]) -> str:
    copies = int(doc.get("copies") or 1)
    if doc.get("novel", True):
        return "new story" if copies <= 1 else f"new story, {copies - 1} copies followed"
    return f"copy of a story first seen {_doc_time(doc.get('first_seen'))} ({copies} copies)"


def _doc_time(value: Any) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).strftime(
            "%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return html.escape(str(value))
