"""The offer catalogue, forwarded to the payments service, which owns prices:
creators keep theirs; anyone (no login) reads a creator's active offers."""

from typing import Annotated

from litestar import Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from common.http import SAFE_ID_PATTERN, Identity
from gateway.auth import requires
from gateway.clients import Services, path_segment
from gateway.schemas.offers import NewOffer, Offer, OfferChange, OfferList
from gateway.schemas.problems import api_problems

# The public read is forwarded as this placeholder: the payments route it reaches
# does not look at who asks.
_VISITOR = Identity(user_id="visitor", role="fan")


@get("/offers", opt={"exclude_from_auth": True}, security=[], tags=["offers"],
     summary="A creator's active offers, what a fan can buy (no login)", responses=api_problems(public=True))
async def list_active_offers(
    creator_id: Annotated[str, QueryParameter(pattern=SAFE_ID_PATTERN)],
    services: NamedDependency[Services],
) -> Response[OfferList]:
    return await services.payments.forward("GET", "/offers", _VISITOR, params={"creator_id": creator_id})


@get("/offers/mine", guards=[requires("creator")], tags=["offers"],
     summary="The caller's whole catalogue, disabled offers included", responses=api_problems(403))
async def list_own_offers(who: NamedDependency[Identity], services: NamedDependency[Services]) -> Response[OfferList]:
    return await services.payments.forward("GET", "/offers/mine", who)


@post("/offers", guards=[requires("creator")], tags=["offers"], status_code=201,
      summary="Create an offer (title, price_minor, currency); the caller is its payee",
      responses=api_problems(403, 422, body=True))
async def create_offer(
    data: JSONBody[NewOffer], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[Offer]:
    return await services.payments.forward("POST", "/offers", who, json=data.model_dump(exclude_unset=True))


@patch("/offers/{offer_id:str}", guards=[requires("creator")], tags=["offers"],
       summary="Change one's offer (title, price_minor, currency): a new price applies to new intents only",
       responses=api_problems(403, 404, 422, body=True))
async def update_offer(
    offer_id: FromPath[str],
    data: JSONBody[OfferChange],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[Offer]:
    return await services.payments.forward("PATCH", f"/offers/{path_segment(offer_id)}", who,
                                           json=data.model_dump(exclude_unset=True))


@post("/offers/{offer_id:str}/disable", guards=[requires("creator")], tags=["offers"], status_code=200,
      summary="Disable one's offer: no new intent can name it", responses=api_problems(403, 404))
async def disable_offer(
    offer_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[Offer]:
    return await services.payments.forward("POST", f"/offers/{path_segment(offer_id)}/disable", who)


route_handlers = [list_active_offers, list_own_offers, create_offer, update_offer, disable_offer]
