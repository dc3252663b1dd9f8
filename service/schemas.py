"""Response models of the lookup API: only what a caller needs, nothing internal."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

# Ids are free text in the store, but a caller's id is a short token: anything else is a 400
# before it reaches SQL (parameters are bound anyway; this keeps junk out of the logs too).
ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,128}$"
# Shops also key users by email or phone number (stored as their pseudonyms): "@" and "+" too.
USER_ID_PATTERN = r"^[A-Za-z0-9_.:@+\-]{1,128}$"


class RecommendedItem(BaseModel):
    rank: int = Field(description="1 is the best")
    item_id: str
    score: float
    reason: str | None = Field(default=None, description="Why the item is there when it is "
                               "not the model's own ranking (e.g. recent-popularity).")


class UserRecommendations(BaseModel):
    user_id: str
    set_id: int = Field(description="The published recommendation set these come from.")
    cold_start: bool = Field(description="True when the user is unknown to the set and the "
                             "list is recent popularity.")
    items: list[RecommendedItem]


class SimilarItem(BaseModel):
    item_id: str
    score: float = Field(description="Inner product of the model's item vectors.")


class SimilarItems(BaseModel):
    item_id: str
    model_version: int
    items: list[SimilarItem]


class EvidenceDocument(BaseModel):
    doc_kind: str
    doc_id: int
    text: str
    score: float
    p_negative: float | None = None
    highlights: list[tuple[str, float]] = Field(description="Words behind the score, strongest "
                                                 "first: with highlighted_by, their credit for "
                                                 "the negative log-odds; else pooling weights.")
    highlighted_by: str | None = Field(default=None, description="How the highlights were found "
                                       "(integrated-gradients), or null for pooling weights.")
    novel: bool | None = Field(default=None, description="The first document of its story.")
    copies: int | None = Field(default=None, description="Documents of the same story.")
    first_seen: datetime | None = Field(default=None, description="When its story was first "
                                        "seen.")


class FiredSignal(BaseModel):
    signal: str = Field(description="negative volume, volume or negative share")
    observed: float
    expected: float = Field(description="The usual for that time (counts) or the baseline "
                            "share.")
    ratio: float


class Revision(BaseModel):
    model_version_id: int | None
    old_severity: int
    new_severity: int
    old_reason: str | None
    new_reason: str | None
    at: datetime


class AlertOut(BaseModel):
    id: int
    entity: str
    topic: str | None
    window: str
    window_start: datetime
    window_end: datetime
    metric: str
    observed: float
    baseline: float
    z: float
    severity: int
    volume: int
    detector: str
    model_version_id: int | None
    status: str
    created_at: datetime
    updated_at: datetime
    negatives: int = 0
    reason: str = Field(default="", description="Every signal that fired, in words.")
    signals: list[FiredSignal] = Field(default_factory=list)
    backfill: bool = Field(default=False, description="Found in windows older than the "
                           "horizon when monitoring ran: history, not paged.")


class AlertDetail(AlertOut):
    evidence: list[EvidenceDocument]
    terms: list[dict[str, float | int | str]] = Field(
        default_factory=list, description="Words over-represented in the alert window.")
    topics: list[dict[str, float | int | str]] = Field(
        default_factory=list, description="Topics over-represented in the alert window.")
    revisions: list[Revision] = Field(default_factory=list, description="The alert judged "
                                      "again under other sentiment models.")


class AlertPage(BaseModel):
    items: list[AlertOut]
    total: int
    limit: int
    offset: int
    entities: list[str] | None = Field(default=None, description="When an entity filter "
                                       "matches no alert: the entity names alerts exist for.")


class Health(BaseModel):
    status: str
    detail: dict[str, str] = Field(default_factory=dict)


class Problem(BaseModel):
    detail: str


class SuggestRequest(BaseModel):
    text: str = Field(min_length=1, max_length=2_000, description="The customer's message; "
                      "redacted before anything else reads it, never stored or logged.")
    entity: str | None = Field(default=None, max_length=128, description="Only this brand's "
                               "past cases (any case); all brands when left out.")
    k: int = Field(default=5, ge=1, le=20, description="Suggestions wanted.")


class SupportCase(BaseModel):
    case_id: str = Field(description="The source and message id of the reply.")
    entity: str
    customer: str = Field(description="The past customer turn (redacted).")
    reply: str = Field(description="The agent reply that answered it (redacted).")
    similarity: float = Field(description="Cosine similarity of the two customer turns.")


class SuggestedReply(BaseModel):
    reply: str = Field(description="The reply of the closest case of this template.")
    similarity: float
    cases: list[SupportCase] = Field(description="Similar past cases answered with this "
                                     "reply's template, closest first.")


class SupportSuggestion(BaseModel):
    index_version: int = Field(description="The support case index version answering.")
    entity: str | None
    intent: str | None = Field(description="What the customer wants; for now the learned "
                               "topic the text falls in.")
    emotion: dict[str, float] | None = Field(description="The live sentiment model's "
                                             "probabilities; null before one is live.")
    suggestions: list[SuggestedReply]
