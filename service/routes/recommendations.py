"""``GET /v1/users/{user_id}/recommendations``: the hot path of the lookup API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi import Path as PathParam

from domain.redaction import stored_id
from service.schemas import USER_ID_PATTERN, Problem, RecommendedItem, UserRecommendations

router = APIRouter(prefix="/v1/users", tags=["recommendations"])


@router.get("/{user_id}/recommendations", response_model=UserRecommendations,
            responses={503: {"model": Problem}})
async def user_recommendations(
    request: Request,
    user_id: Annotated[str, PathParam(pattern=USER_ID_PATTERN)],
    k: Annotated[int, Query(ge=1, le=100)] = 10,
) -> UserRecommendations:
    """The user's top-k from the active set; unknown users get recent popularity. A user id
    that holds an email or phone number is looked up, and answered, as its pseudonym: the
    store never held the value itself."""
    user_id = stored_id(user_id, regions=request.app.state.settings.phone_regions)
    found = await request.app.state.recommendations.lookup(user_id, k)
    if found.set_id is None:
        raise HTTPException(status_code=503, detail="no recommendation set is "
                            "published yet; run `sentrec publish`")
    return UserRecommendations(
        user_id=user_id, set_id=found.set_id, cold_start=found.cold_start,
        items=[RecommendedItem(rank=i.rank, item_id=i.item_id, score=i.score,
                               reason=i.reason) for i in found.items])
