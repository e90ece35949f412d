"""Payouts, forwarded to the payouts service, which validates, checks ownership
and separation of duties, and decides: creators' payout accounts and requests,
admins' decisions, lists, stats and the audit trail."""

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from common.http import IDEMPOTENCY_HEADER, Identity, IdempotencyKey
from gateway.auth import requires
from gateway.clients import Services, path_segment


# ---- creators ----------------------------------------------------------------


@post("/payouts/account", guards=[requires("creator")], tags=["payouts"], status_code=201,
      summary="Create the caller's connected Stripe account (once) and get an onboarding link")
async def create_payout_account(who: NamedDependency[Identity], services: NamedDependency[Services]) -> Response:
    return await services.payouts.forward("POST", "/payouts/account", who)


@get("/payouts/account", guards=[requires("creator", "admin")], tags=["payouts"],
     summary="The payout account's state (an admin names the creator with ?creator_id=)")
async def get_payout_account(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward("GET", "/payouts/account", who, params=request.url.query)


@post("/payouts", guards=[requires("creator")], tags=["payouts"], status_code=201,
      summary="Ask for a payout (201; 200 for a replayed Idempotency-Key)")
async def request_payout(
    data: JSONBody[dict[str, Any]],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Body: `amount_minor` (gross, minor units) or `all: true`, and `currency`.
    The ledger then reserves the funds (or refuses: the payout ends BLOCKED or REJECTED)."""
    headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key is not None else None
    return await services.payouts.forward("POST", "/payouts", who, json=data, headers=headers)


@get("/payouts", guards=[requires("creator")], tags=["payouts"],
     summary="The caller's payouts, newest first (?status=, cursor)")
async def list_own_payouts(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward("GET", "/payouts", who, params=request.url.query)


@get("/payouts/{payout_id:str}", guards=[requires("creator", "admin")], tags=["payouts"],
     summary="One payout (a creator sees only their own: anyone else's is a 404)")
async def get_payout(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward("GET", f"/payouts/{path_segment(payout_id)}", who)


@post("/payouts/{payout_id:str}/cancel", guards=[requires("creator")], tags=["payouts"], status_code=200,
      summary="Withdraw one's own payout request while it waits for a decision")
async def cancel_payout(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward("POST", f"/payouts/{path_segment(payout_id)}/cancel", who)


# ---- admins ------------------------------------------------------------------


@get("/admin/payouts", guards=[requires("admin")], tags=["admin"],
     summary="Payouts: filter (status, creator, dates, amounts), sort, paginate, or ?format=csv")
async def list_payouts(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward(
        "GET", "/admin/payouts", who, params=request.url.query, accept=request.headers.get("Accept")
    )


@get("/admin/payouts/stats", guards=[requires("admin")], tags=["admin"],
     summary="Payouts: count and sums per status and currency")
async def payout_stats(
    request: Request, who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward("GET", "/admin/payouts/stats", who, params=request.url.query)


@post("/admin/payouts/{payout_id:str}/approve", guards=[requires("admin")], tags=["admin"], status_code=200,
      summary="Approve a reserved payout: the transfer and the payout are made at Stripe")
async def approve_payout(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward("POST", f"/admin/payouts/{path_segment(payout_id)}/approve", who)


@post("/admin/payouts/{payout_id:str}/reject", guards=[requires("admin")], tags=["admin"], status_code=200,
      summary="Reject a reserved payout (body: reason, required)")
async def reject_payout(
    payout_id: FromPath[str],
    data: JSONBody[dict[str, Any]],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response:
    return await services.payouts.forward(
        "POST", f"/admin/payouts/{path_segment(payout_id)}/reject", who, json=data
    )


@post("/admin/payouts/{payout_id:str}/void", guards=[requires("admin")], tags=["admin"], status_code=200,
      summary="Void an approved payout Stripe cannot pay out (body: reason, required): the transfer is "
              "reversed, the payout fails and the creator's funds are released")
async def void_payout(
    payout_id: FromPath[str],
    data: JSONBody[dict[str, Any]],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response:
    return await services.payouts.forward(
        "POST", f"/admin/payouts/{path_segment(payout_id)}/void", who, json=data
    )


@get("/admin/payouts/{payout_id:str}/audit", guards=[requires("admin")], tags=["admin"],
     summary="A payout's audit trail, oldest first, with its hash chain")
async def get_payout_audit(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response:
    return await services.payouts.forward("GET", f"/admin/payouts/{path_segment(payout_id)}/audit", who)


# Money leaves (or is set aside to leave) here: the app puts these behind the
# tighter per-user rate limit.
sensitive_route_handlers = [request_payout, approve_payout, reject_payout, void_payout]
route_handlers = [create_payout_account, get_payout_account, list_own_payouts, get_payout, cancel_payout,
                  list_payouts, payout_stats, get_payout_audit]
