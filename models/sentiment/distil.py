"""What distillation needs: its loss, the transfer set, the teacher's logits for it within a
deadline, and a student that starts from the teacher's vocabulary.

The transfer set is every distinct unlabelled in-domain text, minus the held-out test texts
(compared after lower-casing and collapsing white space, so a copy that differs only in case
never leaks the test set into training), shuffled with the run's seed: when the teacher cannot
label all of it in time, the texts it did label are a uniform sample, not the oldest ones.
Augmented copies of the training texts (masked, swapped, cut to an n-gram) join it. Tang et al.
2019 ("Distilling Task-Specific Knowledge from BERT into Simple Neural Networks") show the
student gains most from such unlabelled in-domain text and such copies.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeVar

import torch
import torch.nn.functional as F

from models.sentiment.data import encode_for_model
from models.sentiment.encoder import SentimentClassifier
from models.sentiment.evaluate import predict_logits
from models.sentiment.predict import TrainedSentiment, quantized
from models.sentiment.tokenizer import TextTokenizer

if TYPE_CHECKING:
    from models.sentiment.train import FitConfig

logger = logging.getLogger(__name__)

PROGRESS = "sentrec_scoring"  # LogRecord attribute holding a ``ScoringProgress``
Scored = TypeVar("Scored")  # what ``score_within`` gets from one chunk of texts
TRANSFER_LABELLING = "teacher labels transfer texts"  # the progress bar's default title
StudentVocabulary = Literal["own", "minilm"]
# "own": a WordPiece vocabulary trained on the training and transfer texts, random embeddings.
# "minilm": the teacher's WordPiece vocabulary, embeddings from MiniLM's table by PCA.
# The student's vocabulary: MiniLM's WordPiece with PCA-projected MiniLM embeddings measured
# at least as well as a vocabulary trained on the texts, with the same teacher, transfer set
# (13,312 headlines) and budget (4 min): PhraseBank 50Agree test accuracy 0.7324 vs 0.7314,
# macro-F1 0.6405 vs 0.6377, validation macro-F1 0.668 vs 0.631 (seed 0; one seed, so within
# noise; measured with an earlier recipe, before the lexical member). The fast
# model trained without a teacher reads it too: with an airline held out (4 min, seed 0) it
# lifted held-out macro-F1 from 0.726 to 0.755 (JetBlue), 0.769 to 0.783 (Southwest) and 0.747
# to 0.758 (US Airways); words the labelled texts lack still start from MiniLM's neighbours.
STUDENT_VOCABULARY: StudentVocabulary = "minilm"
# Perturbed copies of each training text the teacher labels beside the store's texts
# (``augmented_copies``). On PhraseBank 50Agree (seed 0, the same accurate teacher) adding up to
# 10 copies per training text to the 53,116 headlines took the student from 0.7779 to 0.7851
# accuracy and 0.7385 to 0.7471 macro-F1, validation macro-F1 0.800 -> 0.818; TF-IDF + LR
# scored 0.7872 / 0.7450 (bench/results/sentiment_quality.md). One seed: within noise.
AUGMENT_COPIES = 10
# Share of a distillation's time budget the teacher may spend labelling transfer texts
# (``distil_within_budget``). Its int8 copy labels about 290 headlines/s
# on one thread (89,589 texts in 311 s), so 40% of the default 8 minutes is about 55,000 texts
# on one thread; the student's epochs over them take the rest.
TEACHER_SHARE = 0.4
# A training text the teacher had no time to label (a store of more labelled texts than its
# share of the budget covers) is taught its own label: logits GOLD_LOGIT on its class and 0 on
# the others, which at the distillation temperature (2) puts 0.91 on it, a confident teacher
# that agrees with the annotators.
GOLD_LOGIT = 6.0
MASK = "[MASK]"  # the teacher's (MiniLM's) mask token, one id in the default student
# vocabulary too; a student with its own vocabulary reads it as "[", "mask", "]"


@dataclass(frozen=True)
class ScoringProgress:
    """How far a model got through texts it scores under a deadline: the teacher through the
    transfer set, the intent model's embedder through the training messages (the CLI draws
    it as a bar titled ``what``)."""

    done: int
    total: int
    elapsed: float  # seconds since scoring began
    eta: float  # seconds left to the scoring deadline (or to the end, without one)
    what: str = TRANSFER_LABELLING


def _key(text: str) -> str:
    return " ".join(text.lower().split())


def transfer_set(pool: Iterable[str], *, held_out: Sequence[str], seed: int) -> list[str]:
    """Every distinct non-blank text of ``pool`` that is not a held-out text, shuffled with
    ``seed``."""
    banned = {_key(t) for t in held_out}
    kept: dict[str, str] = {}
    for text in pool:
        key = _key(text)
        if key and key not in banned and key not in kept:
            kept[key] = text
    texts = sorted(kept.values())  # the store's order is not part of the seeded run
    random.Random(seed).shuffle(texts)
    return texts


@dataclass(frozen=True)
class DistillConfig:
    """Soft-target distillation (Hinton et al. 2015, "Distilling the Knowledge in a Neural
    Network")."""

    temperature: float = 2.0  # softens the teacher; 2-4 is the usual range for few classes
    alpha: float = 0.7  # weight of the soft-target term; 1 - alpha goes to the hard labels


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      labels: torch.Tensor, *, config: DistillConfig,
                      class_weights: torch.Tensor | None = None) -> torch.Tensor:
    """alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, labels).

    T^2 keeps the soft term's gradients on the scale of the hard term (Hinton et al. 2015, s.2).
    Labels of -100 mark unlabelled transfer texts: they contribute the soft term only.
    """
    t = config.temperature
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=-1),
                    F.log_softmax(teacher_logits / t, dim=-1),
                    reduction="batchmean", log_target=True) * (t * t)
    labelled = labels >= 0
    if not bool(labelled.any()):
        return config.alpha * soft
    hard = F.cross_entropy(student_logits[labelled], labels[labelled], weight=class_weights)
    return config.alpha * soft + (1.0 - config.alpha) * hard


def augmented_copies(texts: Sequence[str], *, copies: int, seed: int, mask: str,
                     p_mask: float = 0.1, p_swap: float = 0.1, p_ngram: float = 0.25
                     ) -> list[str]:
    """Up to ``copies`` perturbed copies of each text for the teacher to label (Tang et al.
    2019, s.3.2): each word is replaced by ``mask`` with ``p_mask``, else by a word drawn from
    all the texts' words with ``p_swap`` (their POS-guided swap, without a tagger); then, with
    ``p_ngram``, only an n-gram of 1-5 words is kept. The teacher's soft labels on such
    near-neighbours of the training texts show the student how the labels change around them.
    Copies equal to a given text or to each other are dropped; the order is fixed by ``seed``."""
    rng = random.Random(seed)
    pool = [word for text in texts for word in text.split()]
    given = set(texts)
    found: dict[str, None] = {}
    for text in texts:
        words = text.split()
        for _ in range(copies if words else 0):
            new = []
            for word in words:
                draw = rng.random()
                new.append(mask if draw < p_mask
                           else rng.choice(pool) if draw < p_mask + p_swap else word)
            if len(new) > 1 and rng.random() < p_ngram:
                n = rng.randint(1, min(5, len(new)))
                start = rng.randrange(len(new) - n + 1)
                new = new[start:start + n]
            copy = " ".join(new)
            if copy not in given:
                found.setdefault(copy)
    return list(found)


def labeller_name(teacher: TrainedSentiment) -> str:
    """Which ``labelling_model`` labels for ``teacher`` where it is: "int8" or "float"."""
    return "int8" if next(teacher.model.parameters()).device.type == "cpu" else "float"


def labelling_model(teacher: TrainedSentiment) -> SentimentClassifier:
    """What labels texts for distillation: on CPU an int8 copy of the teacher, its CPU
    inference setting (about twice the texts in the same time at the float model's accuracy;
    ``bench.sentiment_quality`` reports both); on a GPU the teacher itself."""
    model = teacher.model.eval()
    if labeller_name(teacher) == "float":
        return model
    copy: SentimentClassifier = quantized(teacher).model
    return copy


def teacher_logits(teacher: TrainedSentiment, texts: Sequence[str], *,
                   deadline: float | None = None, chunk_size: int = 512,
                   model: SentimentClassifier | None = None,
                   what: str = TRANSFER_LABELLING) -> torch.Tensor:
    """The teacher's logits (N, 3) for the first N of ``texts`` it scored before ``deadline``
    (``time.perf_counter``; None: all of them) by ``model`` (default: ``labelling_model``),
    chunk by chunk, logging progress titled ``what``."""
    labeller = model if model is not None else labelling_model(teacher)

    def label(chunk: Sequence[str]) -> torch.Tensor:
        seqs = encode_for_model(teacher.tokenizer, chunk, int(teacher.config.max_len))
        return predict_logits(labeller, seqs, pad_id=teacher.tokenizer.pad_id)

    return torch.cat([torch.zeros(0, 3), *score_within(
        label, texts, deadline=deadline, chunk_size=chunk_size, what=what)])


def score_within(score: Callable[[Sequence[str]], Scored], texts: Sequence[str], *,
                 deadline: float | None, chunk_size: int, what: str,
                 at_least: int = 0) -> list[Scored]:
    """``score`` of ``texts`` chunk by chunk, in order, while ``deadline``
    (``time.perf_counter``; None: never) has not passed, and for the first ``at_least``
    chunks whatever the time: the results of the chunks scored, a prefix of the texts. Each
    chunk logs a ``ScoringProgress`` titled ``what`` (the CLI's bar)."""
    started = time.perf_counter()
    found: list[Scored] = []
    done = 0
    while done < len(texts) and (len(found) < at_least or deadline is None
                                 or time.perf_counter() < deadline):
        chunk = texts[done:done + chunk_size]
        found.append(score(chunk))
        done += len(chunk)
        elapsed = time.perf_counter() - started
        eta = (deadline - time.perf_counter() if deadline is not None
               else elapsed / done * (len(texts) - done))
        logger.info("%s: %d of %d texts", what, done, len(texts),
                    extra={PROGRESS: ScoringProgress(done, len(texts), elapsed, max(eta, 0.0),
                                                     what)})
    return found


@dataclass(frozen=True)
class Taught:
    """A distilled student, the transfer texts it learnt from and what the teacher said."""

    student: TrainedSentiment
    transfer: list[str]  # the pool texts with the teacher's logits, in the pool's order
    reused: int  # of them, texts whose logits were known before the run
    fresh: dict[str, list[float]]  # what the teacher said in this run (training and pool
    # texts), to keep for the next (``storage.teacher``)


def distil_within_budget(teacher: TrainedSentiment, texts: Sequence[str], labels: Sequence[int],
                         pool: Sequence[str], *, fit: FitConfig, seed: int = 0,
                         vocabulary: StudentVocabulary = STUDENT_VOCABULARY,
                         known: Mapping[str, Sequence[float]] | None = None) -> Taught:
    """The product's distillation within ``fit.max_seconds`` (None: no budget): ``teacher``
    labels the training ``texts`` (in an order shuffled with ``seed``), then the transfer
    ``pool`` in its order until ``TEACHER_SHARE`` of the budget is spent (a shuffled pool makes
    the labelled part a uniform sample); a training text it had no time for is taught its own
    label (``GOLD_LOGIT``; counted in the student's ``n_taught_labels``). The student
    (``models.sentiment.train.train_distilled``) trains on both in the time left. How many
    transfer texts there are is then set by the time, not by the pool: the student always has
    the larger share of the budget for its passes over them. Texts in ``known`` (logits the
    same labeller gave before) are not labelled again, and every known pool text is taught
    whatever the time, so runs of one teacher cover ever more of the pool."""
    from models.sentiment.train import train_distilled  # it imports this module

    known = known or {}
    started = time.perf_counter()
    deadline = None if fit.max_seconds is None else started + TEACHER_SHARE * fit.max_seconds
    labeller = labelling_model(teacher)  # the int8 copy on CPU, built once
    unseen = sorted({text for text in texts if text not in known})
    random.Random(seed).shuffle(unseen)
    taught = teacher_logits(teacher, unseen, deadline=deadline, model=labeller,
                            what="teacher labels training texts")
    fresh = dict(zip(unseen[:len(taught)], taught.tolist(), strict=True))
    todo = [text for text in pool if text not in known and text not in fresh]
    extra = teacher_logits(teacher, todo, deadline=deadline, model=labeller)
    fresh |= dict(zip(todo[:len(extra)], extra.tolist(), strict=True))
    said = {**known, **fresh}
    transfer = [text for text in pool if text in said]
    untaught = [i for i, text in enumerate(texts) if text not in said]
    own = gold_logits([texts[i] for i in untaught], [labels[i] for i in untaught])
    said |= own
    if fit.max_seconds is not None:
        fit = dataclasses.replace(fit, max_seconds=max(
            0.0, fit.max_seconds - (time.perf_counter() - started)))
    student = train_distilled(texts, labels, teacher_logits=_rows([said[t] for t in texts]),
                              transfer_texts=transfer,
                              transfer_logits=_rows([said[t] for t in transfer]),
                              seed=seed, fit=fit, vocabulary=vocabulary)
    student.metrics["n_taught_labels"] = float(len(own))
    return Taught(student, transfer, sum(text in known for text in transfer), fresh)


def gold_logits(texts: Sequence[str], labels: Sequence[int]) -> dict[str, list[float]]:
    """What a training text the teacher did not label is taught: ``GOLD_LOGIT`` on its label,
    shared in proportion among the labels of its copies when they disagree."""
    found: dict[str, list[float]] = {}
    copies: dict[str, int] = {}
    for text, label in zip(texts, labels, strict=True):
        found.setdefault(text, [0.0, 0.0, 0.0])[label] += GOLD_LOGIT
        copies[text] = copies.get(text, 0) + 1
    return {text: [v / copies[text] for v in logits] for text, logits in found.items()}


def _rows(logits: Sequence[Sequence[float]]) -> torch.Tensor:
    """(N, 3) float32 logits from N rows of three numbers."""
    return torch.tensor(logits, dtype=torch.float32).reshape(-1, 3)


def minilm_vocabulary(width: int) -> tuple[TextTokenizer, torch.Tensor]:
    """MiniLM's WordPiece tokenizer, unframed (the fast model reads content tokens only) and
    blind to links, handles and tickers (``models.sentiment.minilm.HANDLE_PLACEHOLDERS``), and
    its word-embedding table (30,522 x 384) projected on its first ``width`` principal
    components, scaled to the N(0, 0.02) spread of a fresh embedding (``models.layers``) so the
    learned positions are not drowned; the [PAD] row is zero."""
    from safetensors import safe_open

    from models.sentiment.minilm import minilm_path, minilm_tokenizer

    tokenizer = minilm_tokenizer(handles="dropped", add_cls_sep=False)
    with safe_open(str(minilm_path() / "model.safetensors"), "pt") as weights:
        table = weights.get_tensor("embeddings.word_embeddings.weight").double()  # (V, 384)
    if width > table.shape[1]:
        raise ValueError(f"width {width} is wider than MiniLM's embeddings ({table.shape[1]})")
    centred = table - table.mean(dim=0)  # (V, 384)
    _, vectors = torch.linalg.eigh(centred.T @ centred)  # ascending eigenvalues
    projected = centred @ vectors[:, -width:].flip(1)  # (V, width), largest component first
    projected = projected * (0.02 / projected.std())
    projected[tokenizer.pad_id] = 0.0
    return tokenizer, projected.float()
