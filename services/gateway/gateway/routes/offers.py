"""The offer catalogue, forwarded to the payments service, which owns prices:
creators keep theirs; anyone (no login) reads a creator's active offers."""

from typing import Annotated, Any

from litestar import Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from common.http import SAFE_ID_PATTERN, Identity
from gateway.auth import requires
from gateway.clients import Services, path_segment

# The public read is forwarded as this placeholder: the payments route it reaches
# does not look at who asks.
_VISITOR = Identity(user_id="visitor", role="fan")


@get("/offers", opt={"exclude_from_auth": True}, security=[], tags=["offers"],
     summary="A creator's active offers, what a fan can buy (no login)")
async def list_active_offers(
    creator_id: Annotated[str, QueryParameter(pattern=SAFE_ID_PATTERN)],
    services: NamedDependency[Services],
) -> Response:
    return await services.payments.forward("GET", "/offers", _VISITOR, params={"creator_id": creator_id})


@get("/offers/mine", guards=[requires("creator")], tags=["offers"],
     summary="The caller's whole catalogue, disabled offers included")
async def list_own_offers(who: NamedDependency[Identity], services: NamedDependency[Services]) -> Response:
    return await services.payments.forward("GET", "/offers/mine", who)


@post("/offers", guards=[requires("creator")], tags=["offers"], status_code=201,
      summary="Create an offer (title, price_minor, currency); the caller is its payee")
async def create_offer(
    data: JSONBody[dict[str, Any]], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payments.forward("POST", "/offers", who, json=data)


@patch("/offers/{offer_id:str}", guards=[requires("creator")], tags=["offers"],
       summary="Change one's offer (title, price_minor, currency): a new price applies to new intents only")
async def update_offer(
    offer_id: FromPath[str],
    data: JSONBody[dict[str, Any]],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response:
    return await services.payments.forward("PATCH", f"/offers/{path_segment(offer_id)}", who, json=data)


@post("/offers/{offer_id:str}/disable", guards=[requires("creator")], tags=["offers"], status_code=200,
      summary="Disable one's offer: no new intent can name it")
async def disable_offer(
    offer_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payments.forward("POST", f"/offers/{path_segment(offer_id)}/disable", who)


route_handlers = [list_active_offers, list_own_offers, create_offer, update_offer, disable_offer]
