"""Scoring many texts with a trained sentiment model, and its one-file artifact.

A text longer than the model window is never cut: it is split into sentences, consecutive
sentences are packed into windows, and a sentence longer than a window is split into
window-sized pieces. The text's probabilities are the mean of its windows' probabilities
weighted by their token counts, so each token counts once whatever window it fell in; its token
weights are each window's pooling weights times that window's share of the tokens, so they
still sum to 1 over the text. Windows are scored in length-sorted batches padded only to the
longest window of each batch (length bucketing): short tweets never pay for a long article.
"""

from __future__ import annotations

import dataclasses
import heapq
import logging
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from domain.keyterms import FUNCTION_WORDS
from domain.redaction import PSEUDONYM_PREFIX
from models.calibration import apply_temperature
from models.checkpoint import load_checkpoint, save_checkpoint
from models.sentiment.data import bucketed_order, pad_batch
from models.sentiment.encoder import SentimentClassifier, SentimentConfig, SentimentEncoder
from models.sentiment.tokenizer import SUBWORD_PREFIX, Encoded, TextTokenizer
from models.training import TrainResult

logger = logging.getLogger(__name__)

Profile = Literal["fast", "accurate", "distilled"]
# A sentence ends at . ! ? or an ellipsis before whitespace and a capital, digit or opening
# quote/bracket ("EUR 13.1 mn" and "e.g. the" do not split); line breaks always split.
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+(?=[\"'\u201c(\[]?[A-Z0-9])|\s*\n+\s*")


@dataclass
class TrainedSentiment:
    """A sentiment model with what it needs to score and to be saved: tokenizer, config,
    metrics. ``config`` is the model's frozen config dataclass."""

    profile: Profile
    model: SentimentClassifier
    tokenizer: TextTokenizer
    config: Any
    metrics: dict[str, float] = field(default_factory=dict)
    encoder_settings: dict[str, Any] | None = None  # accurate profile: MiniLM's own config
    temperature: float = 1.0  # fitted on held-out data (models.calibration); scoring divides
    # the logits by it, so every stored, reported and served probability is calibrated
    run: TrainResult | None = None  # how the training loop went; not saved with the model

    @property
    def window(self) -> int:
        """Content tokens per window ([CLS]/[SEP] excluded)."""
        return int(self.config.max_len) - self.tokenizer.n_special


@dataclass(frozen=True)
class SentimentScores:
    """Per text: calibrated probabilities (N, 3) in SENTIMENT_LABELS order, score = p_pos -
    p_neg (N,), the top-k words by attention weight, and how many windows the text took."""

    probs: np.ndarray
    score: np.ndarray
    highlights: list[list[tuple[str, float]]]
    windows: np.ndarray
    raw_probs: np.ndarray | None = None  # before calibration (temperature 1); None when the
    # model's temperature is 1, where they equal ``probs``


def split_sentences(text: str) -> list[str]:
    """Sentences of a text, blank ones dropped; their concatenation keeps every word."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]




def _windows(encoded: Encoded, text: str, tokenizer: TextTokenizer,
             window: int) -> list[Encoded]:
    """One window when the text fits; else sentences packed greedily, long ones cut in pieces."""
    if len(encoded.ids) <= window:
        return [encoded]
    pieces: list[Encoded] = []
    for sentence in tokenizer.encode_batch(split_sentences(text)):
        for start in range(0, len(sentence.ids), window):
            pieces.append(Encoded(sentence.ids[start:start + window],
                                  sentence.tokens[start:start + window]))
    packed: list[Encoded] = []
    for piece in pieces:
        if packed and len(packed[-1].ids) + len(piece.ids) <= window:
            packed[-1] = Encoded(packed[-1].ids + piece.ids, packed[-1].tokens + piece.tokens)
        else:
            packed.append(piece)
    return packed


def score_texts(trained: TrainedSentiment, texts: Sequence[str], *, batch_size: int = 64,
                top_k: int = 5) -> SentimentScores:
    """Probabilities, score and top-k highlighted words for every text, in input order."""
    tokenizer, window = trained.tokenizer, trained.window
    segments: list[Encoded] = []
    owner: list[int] = []
    unread: list[int] = []  # texts of no token the model reads
    for index, (text, encoded) in enumerate(zip(texts, tokenizer.encode_batch(texts),
                                                strict=True)):
        if not encoded.ids:
            if not text.strip():
                raise ValueError(f"text {index} is blank; drop empty texts before scoring")
            # nothing the model reads (a bare link, say): scored as [UNK] alone, as training
            # reads such a text, with no words to highlight
            encoded = Encoded([tokenizer.unk_id], [""])
            unread.append(index)
        pieces = _windows(encoded, text, tokenizer, window)
        segments.extend(pieces)
        owner.extend([index] * len(pieces))
    inputs = [tokenizer.frame(s.ids) for s in segments]
    offset = 1 if tokenizer.add_cls_sep else 0  # content starts after [CLS]
    seg_probs = np.zeros((len(segments), 3), dtype=np.float32)
    seg_weights: list[np.ndarray] = [np.empty(0, dtype=np.float32)] * len(segments)
    trained.model.eval()
    for rows in bucketed_order([len(s) for s in inputs], batch_size):
        ids, mask = pad_batch([inputs[r] for r in rows], tokenizer.pad_id)
        probs, weights = trained.model.predict(ids, mask)
        seg_probs[rows] = probs.numpy()
        weight_rows = weights.numpy()
        for slot, row in enumerate(rows):
            seg_weights[row] = weight_rows[slot, offset:offset + len(segments[row].ids)]
    calibrated = apply_temperature(seg_probs, trained.temperature)
    scores = _aggregate(len(texts), segments, owner, calibrated, seg_weights, top_k,
                        raw_seg_probs=None if calibrated is seg_probs else seg_probs)
    for index in unread:
        scores.highlights[index] = []
    return scores


def _aggregate(n_texts: int, segments: list[Encoded], owner: list[int], seg_probs: np.ndarray,
               seg_weights: list[np.ndarray], top_k: int,
               raw_seg_probs: np.ndarray | None = None) -> SentimentScores:
    """Token-count-weighted mean of window probabilities (and of the uncalibrated ones when
    given); highlights over the whole text."""
    sizes = np.array([len(s.ids) for s in segments], dtype=np.float64)
    owners = np.asarray(owner)
    totals = np.bincount(owners, weights=sizes, minlength=n_texts)
    share = sizes / totals[owners]  # (S,) each window's share of its text's tokens

    def mean(window_probs: np.ndarray) -> np.ndarray:
        found = np.zeros((n_texts, 3), dtype=np.float64)
        np.add.at(found, owners, window_probs * share[:, None])
        return found.astype(np.float32)

    probs = mean(seg_probs)
    highlights: list[list[tuple[str, float]]] = []
    windows = np.bincount(owners, minlength=n_texts)
    first = 0  # a text's windows are consecutive in ``owner``
    for count in windows.tolist():
        if count == 1:  # most texts: one window, whose share is 1
            highlights.append(_top_words(segments[first].tokens, seg_weights[first].tolist(),
                                         top_k))
        else:
            tokens: list[str] = []
            weights: list[float] = []
            for seg in range(first, first + count):
                tokens.extend(segments[seg].tokens)
                weights.extend((seg_weights[seg] * share[seg]).tolist())
            highlights.append(_top_words(tokens, weights, top_k))
        first += count
    return SentimentScores(probs=probs, score=probs[:, 2] - probs[:, 0], highlights=highlights,
                           windows=windows,
                           raw_probs=None if raw_seg_probs is None else mean(raw_seg_probs))


# What a stored highlight may never be, whatever weight pooling gave it: a special token or a
# redaction tag ("[UNK]", "[EMAIL]"; MiniLM reads "[", "email", "]", and "[USER_NAME]" as five
# words), a word without a letter (punctuation, numbers), a single letter, a function word, a
# contraction other than a negation's ("it's", "we'll"; "can't" stays), a link (the accurate
# model reads it as "http"), the word after "@" or "$" (a handle or ticker, or the accurate
# model's "@user" / "$stock" placeholders) and a pseudonym ("pii:" and its digest). The
# highlights are what the API and the report show where no explanation was made, so they name
# only words a reader weighs.
_TAG = re.compile(r"^\[[A-Za-z_]+\]$")
_LETTER = re.compile(r"[^\W\d_]")
_NEVER = FUNCTION_WORDS | {"http", "https", "www"}
_NAMING = frozenset({"@", "$"})
_PSEUDONYM = PSEUDONYM_PREFIX.rstrip(":")
_APOSTROPHES = frozenset({"'", "\u2019"})
_CONTRACTED = frozenset({"s", "t", "m", "d", "ll", "re", "ve"})  # what follows the apostrophe
_TAG_WORDS = 6  # words a bracketed tag may hold ("[ user _ name ]")


def _words(tokens: Sequence[str], weights: Sequence[float]) -> tuple[list[str], list[float]]:
    """The text's words and their summed weights: word pieces ("##") joined into their word,
    and a contraction ("can", "'", "t") into one ("can't")."""
    words: list[str] = []
    sums: list[float] = []
    for token, weight in zip(tokens, weights, strict=True):
        if token.startswith(SUBWORD_PREFIX) and words:
            words[-1] += token[len(SUBWORD_PREFIX):]
            sums[-1] += weight
        elif token.lower() in _CONTRACTED and len(words) >= 2 and words[-1] in _APOSTROPHES \
                and _LETTER.search(words[-2]):
            words[-2:] = [words[-2] + "'" + token]
            sums[-2:] = [sums[-2] + sums[-1] + weight]
        else:
            words.append(token)
            sums.append(weight)
    return words, sums


def _hidden(words: Sequence[str]) -> list[bool]:
    """For each word of a text (``_words``), whether it may not be highlighted."""
    hidden = [False] * len(words)
    for i, word in enumerate(words):
        low = word.lower()
        _, apostrophe, tail = low.partition("'")
        hidden[i] = hidden[i] or (
            low in _NEVER or len(word) < 2 or not (word.isalpha() or _LETTER.search(word))
            or low.startswith(PSEUDONYM_PREFIX) or _TAG.match(word) is not None
            or (bool(apostrophe) and tail != "t") or (i > 0 and words[i - 1] in _NAMING))
        if word == "[":  # a tag of a few words: everything up to its "]"
            close = next((j for j in range(i + 1, min(len(words), i + _TAG_WORDS + 2))
                          if words[j] == "]"), None)
            for j in range(i + 1, close or i + 1):
                hidden[j] = True
        if low == _PSEUDONYM and i + 1 < len(words) and words[i + 1] == ":":
            hidden[i] = True
            if i + 2 < len(words):
                hidden[i + 2] = True  # the digest
    return hidden


def _top_words(tokens: list[str], weights: list[float], top_k: int) -> list[tuple[str, float]]:
    """Top-k words by pooling weight, ``_hidden`` words aside (``_words`` joins word pieces
    and contractions, summing their weights); repeats of a word summed. Ties keep the order
    of first appearance."""
    words, sums = _words(tokens, weights)
    totals: dict[str, float] = {}
    for word, total, hidden in zip(words, sums, _hidden(words), strict=True):
        if not hidden:
            totals[word] = totals.get(word, 0.0) + total
    ranked = heapq.nlargest(top_k, totals.items(), key=itemgetter(1))
    return [(word, round(weight, 4)) for word, weight in ranked]


def quantized(trained: TrainedSentiment) -> TrainedSentiment:
    """A copy whose Linear layers run in int8 (CPU inference; see ``quantize_int8``)."""
    import copy

    model = quantize_int8(copy.deepcopy(trained.model))
    return dataclasses.replace(trained, model=model)  # type: ignore[arg-type]


def quantize_int8(model: nn.Module) -> nn.Module:
    """Int8 dynamic quantisation of every Linear (weights int8, activations quantised per batch);
    CPU inference only. PyTorch tutorial "Dynamic Quantization on BERT" reports ~1.5-2x speed-up
    and under 1 point of accuracy lost; the speed bench measures it here."""
    from torch.ao.quantization import quantize_dynamic

    model.eval()
    with warnings.catch_warnings():
        # torch 2.13 deprecates quantised tensor creation in favour of torchao (pytorch issue
        # 184982); the eager int8 kernels still work, and torchao is not a dependency here.
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*deprecated",
                                category=UserWarning)
        quantized: nn.Module = quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {nn.Linear}, dtype=torch.qint8)
    return quantized


def save_sentiment(trained: TrainedSentiment, path: Path | str) -> str:
    """One file: weights + config + tokenizer + metrics; returns its sha256 for the registry."""
    extra = {"profile": trained.profile, "tokenizer": trained.tokenizer.to_json(),
             "metrics": {k: float(v) for k, v in trained.metrics.items()},
             "encoder": trained.encoder_settings, "temperature": trained.temperature}
    return save_checkpoint(path, model=trained.model, config=trained.config, extra=extra)


def load_sentiment(path: Path | str, *, sha256: str) -> TrainedSentiment:
    """The model ``save_sentiment`` wrote, after checking the file's sha256."""
    checkpoint = load_checkpoint(path, sha256=sha256)
    extra = checkpoint.extra
    profile = extra.get("profile")
    tokenizer = TextTokenizer.from_json(extra["tokenizer"])
    model: SentimentClassifier
    if profile in ("fast", "distilled"):
        config: Any = SentimentConfig(**checkpoint.config)
        model = SentimentEncoder(config)
    elif profile == "accurate":
        from models.sentiment.minilm import AccurateConfig, MiniLMSentiment, build_accurate

        config = AccurateConfig(**checkpoint.config)
        built: MiniLMSentiment = build_accurate(config, tokenizer=tokenizer,
                                                encoder_settings=extra["encoder"])[0]
        model = built
    else:
        raise ValueError(f"{path}: unknown sentiment profile {profile!r}; expected fast, "
                         "distilled or accurate")
    model.load_state_dict(checkpoint.state_dict)
    model.eval()
    return TrainedSentiment(profile=profile, model=model, tokenizer=tokenizer, config=config,
                            metrics=dict(extra["metrics"]), encoder_settings=extra["encoder"],
                            temperature=float(extra.get("temperature", 1.0)))
