"""``POST /v1/support/suggest``: suggested replies, emotion and intent for one customer text.

It computes and never writes. The body is read here, at most ``MAX_BODY`` bytes of it (413
past that, before more is read), and validated here, so that a refusal names the field and
never echoes what was sent; the text is redacted before anything else reads it
(``service.support``).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from domain.errors import InvalidInputError, NotReadyError
from service.schemas import (
    Problem,
    SuggestedReply,
    SuggestRequest,
    SupportCase,
    SupportSuggestion,
)

router = APIRouter(prefix="/v1/support", tags=["support"])

MAX_BODY = 16 * 1024  # bytes: the longest text (2,000 characters) in JSON, with room
_BODY = {"required": True, "content": {"application/json": {
    "schema": SuggestRequest.model_json_schema()}}}


async def read_request(request: Request) -> SuggestRequest:
    """The body as a ``SuggestRequest``; 413 past ``MAX_BODY`` bytes, 422 naming the fields
    that are wrong (never their values: they are customer text)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(status_code=413, detail=f"the body is over {MAX_BODY} bytes; "
                                "send one text of at most 2,000 characters")
    try:
        return SuggestRequest.model_validate_json(bytes(body))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                             for e in exc.errors(include_input=False, include_url=False))
        raise HTTPException(status_code=422, detail=problems) from None


@router.post("/suggest", response_model=SupportSuggestion, openapi_extra={"requestBody": _BODY},
             responses={404: {"model": Problem}, 413: {"model": Problem},
                        422: {"model": Problem}, 503: {"model": Problem}})
async def suggest_replies(request: Request) -> SupportSuggestion:
    """Replies that resolved the most similar past cases, grouped by template, with the
    customer's emotion and intent (body: ``SuggestRequest``)."""
    asked = await read_request(request)
    try:
        found = await run_in_threadpool(request.app.state.support.answer, asked.text,
                                        entity=asked.entity, k=asked.k)
    except InvalidInputError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    except NotReadyError as exc:
        raise HTTPException(status_code=503, detail=str(exc)) from exc
    return SupportSuggestion(
        index_version=found.index_version, entity=found.entity, intent=found.intent,
        emotion=found.emotion, suggestions=[SuggestedReply(
            reply=s.reply, similarity=s.similarity,
            cases=[SupportCase(case_id=c.case_id, entity=c.entity, customer=c.customer,
                               reply=c.reply, similarity=c.similarity) for c in s.cases])
            for s in found.suggestions])
