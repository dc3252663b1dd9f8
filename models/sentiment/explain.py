"""Which words pushed a sentiment prediction, and how far: attributions on the token embeddings.

The pooling weights (``AttentionPool``) say where the model looked, not which way a word
pushed, and attention weights are a poor guide to what a prediction rests on (Jain & Wallace
2019, "Attention is not Explanation"). Integrated gradients (Sundararajan et al. 2017) credit
each token with its share of the change in the explained output between a baseline (every
content token replaced by [PAD], [CLS]/[SEP] kept) and the text; the shares add up to that
change (completeness). Gradient x input is the one-pass approximation. Both come from Captum,
on the embedding layer, so word-piece ids never need to be differentiable. A fast model with a
lexical member (``models.sentiment.lexical``) is attributed on its per-occurrence rows as well,
along the same path (baseline: no rows), so its words' share is counted too; a word-piece pair's
credit is split between its two pieces.

The explained output is the log-odds of one class against the other two,
``logit_c - logsumexp(other logits) = log p_c / (1 - p_c)``: unbounded, so a document scored
p(negative) 0.99 still shows which words put it there.

Attributions are per word as a reader sees it (``\\w[\\w']*``, the words the report shades):
word pieces add up into their word. Punctuation belongs to no word; a word inside a URL,
an @mention, a cashtag, a redaction placeholder ([EMAIL], [PHONE] ...) or a pseudonym, and a word
without a letter (a number), is kept for the arithmetic but never shown. Highlights
(``top_words``) also pass over function words ("the", "to"; negations and "again" stay):
a model can lean on them, and ``bench.explanations`` reports how often the attributions put
them in the top five, but a reader cannot act on them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import torch
from torch import nn

from domain.keyterms import FUNCTION_WORDS
from domain.redaction import PSEUDONYM_PREFIX
from models.sentiment.data import pad_batch
from models.sentiment.encoder import SentimentEncoder
from models.sentiment.minilm import MiniLMSentiment
from models.sentiment.predict import TrainedSentiment

NEGATIVE = 0  # index of "negative" in domain.records.SENTIMENT_LABELS
_WORD = re.compile(r"\w[\w']*")
_HIDDEN = re.compile(r"https?://\S+|www\.\S+|@\w+|\[[A-Z_]+\]|\$[A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?\b"
                     + "|" + re.escape(PSEUDONYM_PREFIX) + r"\S+")


class Attribution(StrEnum):
    """How token credit is computed."""

    INTEGRATED_GRADIENTS = "integrated-gradients"
    GRADIENT_X_INPUT = "gradient-x-input"


@dataclass(frozen=True)
class WordScores:
    """One text's words in order: surface form, attribution toward the explained class,
    whether it may be highlighted, and the content-token positions it is made of."""

    words: list[str]
    scores: list[float]
    shown: list[bool]
    pieces: list[list[int]]


def text_words(text: str, offsets: Sequence[tuple[int, int]]) -> WordScores:
    """The words of ``text`` with their token positions (scores zero); tokens outside any
    word (punctuation) are left out."""
    spans = [m.span() for m in _WORD.finditer(text)]
    hidden = [m.span() for m in _HIDDEN.finditer(text)]
    pieces: list[list[int]] = [[] for _ in spans]
    word = 0
    for position, (start, end) in enumerate(offsets):
        while word < len(spans) and spans[word][1] <= start:
            word += 1
        if word < len(spans) and spans[word][0] < end:
            pieces[word].append(position)
    keep = [i for i, p in enumerate(pieces) if p]
    words = [text[spans[i][0]:spans[i][1]] for i in keep]
    shown = [any(c.isalpha() for c in w) and not any(a <= spans[i][0] < b for a, b in hidden)
             for i, w in zip(keep, words, strict=True)]
    return WordScores(words, [0.0] * len(keep), shown, [pieces[i] for i in keep])


def embedding_layer(model: nn.Module) -> nn.Module:
    """The word-embedding table of either profile (what attributions are taken on)."""
    if isinstance(model, SentimentEncoder):
        return model.tokens
    if isinstance(model, MiniLMSentiment):
        embeddings = model.encoder.get_input_embeddings()  # type: ignore[operator]
        if not isinstance(embeddings, nn.Module):
            raise TypeError("the MiniLM encoder has no input embedding table")
        return embeddings
    raise TypeError(f"no embedding layer known for {type(model).__name__}")


def log_odds(model: nn.Module, target: int) -> Callable[[torch.Tensor, torch.Tensor],
                                                         torch.Tensor]:
    """``log p_target / (1 - p_target)`` per row, as a function of (ids, mask)."""
    def forward(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = model(ids, mask).float()  # (B, 3)
        others = torch.cat([logits[:, :target], logits[:, target + 1:]], dim=1)  # (B, 2)
        odds: torch.Tensor = logits[:, target] - torch.logsumexp(others, dim=1)  # (B,)
        return odds
    return forward


def token_attributions(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                       baseline: torch.Tensor, *, method: Attribution, target: int = NEGATIVE,
                       steps: int = 32) -> torch.Tensor:
    """Attribution of every token (B, T) to the target's log-odds, summed over embedding
    dimensions; ``baseline`` (B, T) are the reference ids for integrated gradients."""
    from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

    model.eval()
    forward, layers = log_odds(model, target), [embedding_layer(model)]
    lexical = model.lexical if isinstance(model, SentimentEncoder) else None
    if lexical is not None:
        layers.append(lexical.terms)  # the lexical member's rows: its logits are linear in them
    with warnings.catch_warnings():
        # Captum warns that one layer must not be computed from another: the lexical rows come
        # from the ids, never from the embeddings
        warnings.filterwarnings("ignore", message="Multiple layers provided")
        if method is Attribution.INTEGRATED_GRADIENTS:
            found = LayerIntegratedGradients(forward, layers).attribute(
                ids, baselines=baseline, additional_forward_args=(mask,), n_steps=steps,
                internal_batch_size=max(1, 8192 // ids.shape[1]))  # ~8k tokens a pass
        else:
            found = LayerGradientXActivation(forward, layers).attribute(
                ids, additional_forward_args=(mask,))
    scores: torch.Tensor = found[0].sum(dim=-1).detach()  # (B, T)
    if lexical is not None:
        terms = found[1].sum(dim=-1).detach()  # (B, 2T - 1): the T pieces, then the pairs,
        length = ids.shape[1]  # then with a character block each piece's grams (B, 3T - 1)
        pairs = terms[:, length:2 * length - 1] / 2  # half of a pair's credit to each piece
        scores = scores + terms[:, :length]
        scores[:, :-1] += pairs
        scores[:, 1:] += pairs
        if terms.shape[1] > 2 * length - 1:
            scores += terms[:, 2 * length - 1:]
    return scores * mask


def explain_texts(trained: TrainedSentiment, texts: Sequence[str], *,
                  method: Attribution = Attribution.INTEGRATED_GRADIENTS,
                  target: int = NEGATIVE, steps: int = 32, batch_size: int = 16
                  ) -> list[WordScores]:
    """Word attributions toward ``target`` for every text, in input order. A text longer than
    the model window is explained window by window (consecutive runs of tokens)."""
    tokenizer, window = trained.tokenizer, trained.window
    encoded = tokenizer.encode_batch(texts, offsets=True)
    rows: list[tuple[int, int, list[int]]] = []  # (text, first content position, ids)
    for index, enc in enumerate(encoded):
        for start in range(0, len(enc.ids), window):
            rows.append((index, start, enc.ids[start:start + window]))
    token_scores = [torch.zeros(len(enc.ids)) for enc in encoded]
    offset = 1 if tokenizer.add_cls_sep else 0
    for first in range(0, len(rows), batch_size):
        chunk = rows[first:first + batch_size]
        ids, mask = pad_batch([tokenizer.frame(r[2]) for r in chunk], tokenizer.pad_id)
        content = torch.zeros_like(mask)
        for slot, (_, _, piece) in enumerate(chunk):
            content[slot, offset:offset + len(piece)] = True
        baseline = ids.masked_fill(content, tokenizer.pad_id)
        with torch.enable_grad():
            found = token_attributions(trained.model, ids, mask, baseline, method=method,
                                       target=target, steps=steps)
        for slot, (index, start, piece) in enumerate(chunk):
            token_scores[index][start:start + len(piece)] = found[slot,
                                                                  offset:offset + len(piece)]
    out = []
    for text, enc, scores in zip(texts, encoded, token_scores, strict=True):
        words = text_words(text, enc.offsets)
        out.append(WordScores(words.words, [float(scores[p].sum()) for p in words.pieces],
                              words.shown, words.pieces))
    return out


def top_words(words: WordScores, top_k: int = 5, *,
              skip: frozenset[str] = FUNCTION_WORDS) -> list[tuple[str, float]]:
    """The ``top_k`` shown words, ``skip`` aside, that pushed toward the explained class most
    (repeats of a word, any case, add up), strongest first."""
    totals: dict[str, tuple[str, float]] = {}
    for word, score, shown in zip(words.words, words.scores, words.shown, strict=True):
        key = word.lower()
        if shown and key not in skip:
            surface, total = totals.get(key, (word, 0.0))
            totals[key] = (surface, total + score)
    ranked = sorted((item for item in totals.values() if item[1] > 0), key=lambda i: -i[1])
    return [(word, round(score, 4)) for word, score in ranked[:top_k]]
