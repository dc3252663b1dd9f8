"""Sub-word tokenizers for the sentiment models, trained offline with the `tokenizers` library.

The fast profile's WordPiece vocabulary is learned from the training texts. Its normaliser lives
inside the `tokenizers` pipeline, so the JSON string that goes into a checkpoint reproduces it
exactly: lower-casing, then URLs, @mentions, cashtags and numbers become placeholder tokens. A
cashtag never reaches the vocabulary, so the model cannot tell `$AAPL` from `$MSFT` (invariance
to the company, as in the behavioural tests of Ribeiro et al. 2020, "Beyond Accuracy: CheckList").
Signs and `%` stay separate tokens: "-3.5%" reads as `-`, `[NUM]`, `%`.

Inside the pipeline a placeholder is one private-use character (U+E000..U+E003): lower-casing
cannot change it and the BERT pre-tokeniser keeps it whole, which a bracketed `[URL]` would not
survive. Surface strings map it back to its readable name.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

PAD, UNK, CLS, SEP = "[PAD]", "[UNK]", "[CLS]", "[SEP]"
PLACEHOLDERS = {"[URL]": "\ue000", "[USER]": "\ue001", "[CASHTAG]": "\ue002", "[NUM]": "\ue003"}
_READABLE = {char: name for name, char in PLACEHOLDERS.items()}
# [PAD] first so that its id is 0, which the models and the collation rely on.
SPECIAL_TOKENS = (PAD, UNK, CLS, SEP, *PLACEHOLDERS.values())
SUBWORD_PREFIX = "##"
_FORMAT = "sentrec-tokenizer/1"

URL_PATTERN, USER_PATTERN = r"https?://\S+|www\.\S+", r"@\w+"
CASHTAG_PATTERN = r"\$[a-z]{1,6}(?:\.[a-z]{1,2})?\b"  # $aapl, $brk.b; "$5" stays a number
# Applied in this order after lower-casing: URLs first (they hold digits and @), numbers last.
_PATTERNS = (
    (URL_PATTERN, "[URL]"),
    (USER_PATTERN, "[USER]"),
    (CASHTAG_PATTERN, "[CASHTAG]"),
    (r"\d+(?:[.,]\d+)*", "[NUM]"),  # 13.1, 3,000, 2007; a sign or % around it stays
)


def build_normalizer() -> normalizers.Normalizer:
    """NFKC, lower-case, then placeholders; spaces around each keep it a word of its own."""
    steps: list[normalizers.Normalizer] = [normalizers.NFKC(), normalizers.Lowercase()]
    steps += [normalizers.Replace(Regex(pattern), f" {PLACEHOLDERS[name]} ")
              for pattern, name in _PATTERNS]
    return normalizers.Sequence(steps)


def normalize_text(text: str) -> str:
    """The normalised text with readable placeholders (what the baseline sees too)."""
    normal: str = build_normalizer().normalize_str(text)
    for char, name in _READABLE.items():
        normal = normal.replace(char, name)
    return " ".join(normal.split())


@dataclass(frozen=True)
class Encoded:
    """Content tokens of one text (no [CLS]/[SEP]): ids, their surface strings and, when
    encoded with ``offsets=True``, each token's character span in it (explanations map tokens
    back to the words a reader sees)."""

    ids: list[int]
    tokens: list[str]
    offsets: list[tuple[int, int]] = field(default_factory=list)


class TextTokenizer:
    """A `tokenizers.Tokenizer` plus how the model expects a sequence framed.

    ``encode`` returns content tokens only; ``frame`` adds [CLS] ... [SEP] for encoders pretrained
    that way (MiniLM). The fast model reads the content alone: its attention pooling needs no
    [CLS] summary, and every pooling weight then falls on a token a person can read.
    """

    def __init__(self, tokenizer: Tokenizer, *, add_cls_sep: bool = False) -> None:
        tokenizer.no_truncation()  # never cut silently: the scorer splits long texts itself
        tokenizer.no_padding()  # collation pads per batch (length bucketing)
        self._tokenizer = tokenizer
        self.add_cls_sep = add_cls_sep
        self.pad_id = self._require(PAD)
        self.cls_id = self._require(CLS)
        self.sep_id = self._require(SEP)
        self.unk_id = self._require(UNK)
        # Each id's surface string, placeholders by their readable names: tokens are read from
        # ids, since the untracked encoding (no offsets) leaves its token strings empty.
        surface = [""] * tokenizer.get_vocab_size()
        for token, index in tokenizer.get_vocab().items():
            surface[index] = _READABLE.get(token, token)
        self._surface = surface

    def _require(self, token: str) -> int:
        index = self._tokenizer.token_to_id(token)
        if index is None:
            raise ValueError(f"the tokenizer has no {token} token; train it with train_tokenizer "
                             "or load a BERT-style WordPiece tokenizer")
        return int(index)

    def id_of(self, token: str) -> int:
        """The id of a token of the vocabulary (e.g. "[MASK]"); a missing one is an error."""
        return self._require(token)

    @property
    def surfaces(self) -> list[str]:
        """Each id's surface string ("##" continuations kept, placeholders by their readable
        names), in id order."""
        return list(self._surface)

    @property
    def vocab_size(self) -> int:
        """Number of ids, special tokens included."""
        return int(self._tokenizer.get_vocab_size())

    @property
    def n_special(self) -> int:
        """Ids added around the content by ``frame`` (2 with [CLS]/[SEP], else 0)."""
        return 2 if self.add_cls_sep else 0

    def encode(self, text: str, *, offsets: bool = False) -> Encoded:
        """Content ids and surface strings of one text (``encode_batch``)."""
        return self.encode_batch([text], offsets=offsets)[0]

    def encode_batch(self, texts: Sequence[str], *, offsets: bool = False) -> list[Encoded]:
        """Content ids and surface strings of many texts (parallel in Rust); with ``offsets``
        also each token's character span, which tracking makes about a fifth slower (scoring
        does not need them, explanations do)."""
        batch = list(texts)
        surface = self._surface
        if offsets:
            return [Encoded(ids=e.ids, tokens=[surface[i] for i in e.ids], offsets=e.offsets)
                    for e in self._tokenizer.encode_batch(batch, add_special_tokens=False)]
        return [Encoded(ids=ids, tokens=[surface[i] for i in ids])
                for ids in (e.ids for e in self._tokenizer.encode_batch_fast(
                    batch, add_special_tokens=False))]

    def frame(self, ids: list[int]) -> list[int]:
        """The model input for content ids: with [CLS] ... [SEP] when the encoder wants them."""
        return [self.cls_id, *ids, self.sep_id] if self.add_cls_sep else list(ids)

    def to_json(self) -> str:
        """One JSON string (vocabulary, normaliser, framing) to store inside a checkpoint."""
        return json.dumps({"format": _FORMAT, "add_cls_sep": self.add_cls_sep,
                           "tokenizer": json.loads(self._tokenizer.to_str())})

    @classmethod
    def from_json(cls, text: str) -> TextTokenizer:
        """The tokenizer ``to_json`` wrote."""
        payload = json.loads(text)
        if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
            raise ValueError(f"not a {_FORMAT} tokenizer string; save it with "
                             "TextTokenizer.to_json")
        return cls(Tokenizer.from_str(json.dumps(payload["tokenizer"])),
                   add_cls_sep=bool(payload["add_cls_sep"]))


def train_tokenizer(texts: Iterable[str], *, vocab_size: int = 8000,
                    min_frequency: int = 2) -> TextTokenizer:
    """Learn a WordPiece vocabulary from ``texts`` (the training portion only)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK, continuing_subword_prefix=SUBWORD_PREFIX))
    tokenizer.normalizer = build_normalizer()
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece(prefix=SUBWORD_PREFIX)
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
        continuing_subword_prefix=SUBWORD_PREFIX, show_progress=False)
    tokenizer.train_from_iterator(texts, trainer)
    # The trainer numbers tokens in hash-map order, which changes from process to process, and
    # breaks ties between merges by those numbers (tokenizers issue #1794), so the learned
    # pieces can differ a little between runs. Each id owns an embedding row: renumbering
    # (special tokens first, then by text) at least gives every shared piece the same row.
    learned = tokenizer.get_vocab()
    ordered = [t for t in SPECIAL_TOKENS if t in learned] + sorted(
        t for t in learned if t not in SPECIAL_TOKENS)
    tokenizer.model = models.WordPiece(vocab={t: i for i, t in enumerate(ordered)}, unk_token=UNK,
                                       continuing_subword_prefix=SUBWORD_PREFIX)
    return TextTokenizer(tokenizer)

