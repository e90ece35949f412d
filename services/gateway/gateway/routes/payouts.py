"""Payouts, forwarded to the payouts service, which validates, checks ownership
and separation of duties, and decides: creators' payout accounts and requests,
admins' decisions, lists, stats and the audit trail."""

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, JSONBody

from common.http import IDEMPOTENCY_HEADER, Identity, IdempotencyKey
from gateway.auth import requires
from gateway.clients import Services, path_segment
from gateway.schemas import queries
from gateway.schemas.csv_export import CsvOrJson
from gateway.schemas.payouts import (DecisionBody, Payout, PayoutAccount, PayoutAccountCreated, PayoutAudit,
                                     PayoutPage, PayoutRequestBody, PayoutStats)
from gateway.schemas.problems import api_problems


# ---- creators ----------------------------------------------------------------


@post("/payouts/account", guards=[requires("creator")], tags=["payouts"], status_code=201,
      summary="Create the caller's connected Stripe account (once) and get an onboarding link",
      responses=api_problems(403, 409, 502))
async def create_payout_account(
    who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[PayoutAccountCreated]:
    return await services.payouts.forward("POST", "/payouts/account", who)


@get("/payouts/account", guards=[requires("creator", "admin")], tags=["payouts"],
     summary="The payout account's state (an admin names the creator with ?creator_id=)",
     responses=api_problems(403, 404), dependencies=queries.forwarded(queries.account_of))
async def get_payout_account(
    checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[PayoutAccount]:
    return await services.payouts.forward("GET", "/payouts/account", who, params=checked_query)


@post("/payouts", guards=[requires("creator")], tags=["payouts"], status_code=201,
      summary="Ask for a payout (201; 200 for a replayed Idempotency-Key)",
      responses={**api_problems(403, 409, 422, body=True),
                 200: ResponseSpec(Payout, description="A replayed Idempotency-Key: the payout it made",
                                   generate_examples=False)})
async def request_payout(
    data: JSONBody[PayoutRequestBody],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
    idempotency_key: IdempotencyKey = None,
) -> Response[Payout]:
    """Body: `amount_minor` (gross, minor units) or `all: true`, and `currency`.
    The ledger then reserves the funds (or refuses: the payout ends BLOCKED or REJECTED)."""
    headers = {IDEMPOTENCY_HEADER: idempotency_key} if idempotency_key is not None else None
    return await services.payouts.forward("POST", "/payouts", who, json=data.model_dump(exclude_unset=True),
                                          headers=headers)


@get("/payouts", guards=[requires("creator")], tags=["payouts"],
     summary="The caller's payouts, newest first (?status=, cursor)", responses=api_problems(403),
     dependencies=queries.forwarded(queries.own_payout_page))
async def list_own_payouts(
    checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[PayoutPage]:
    return await services.payouts.forward("GET", "/payouts", who, params=checked_query)


@get("/payouts/{payout_id:str}", guards=[requires("creator", "admin")], tags=["payouts"],
     summary="One payout (a creator sees only their own: anyone else's is a 404)",
     responses=api_problems(403, 404))
async def get_payout(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[Payout]:
    return await services.payouts.forward("GET", f"/payouts/{path_segment(payout_id)}", who)


@post("/payouts/{payout_id:str}/cancel", guards=[requires("creator")], tags=["payouts"], status_code=200,
      summary="Withdraw one's own payout request while it waits for a decision",
      responses=api_problems(403, 404, 409))
async def cancel_payout(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[Payout]:
    return await services.payouts.forward("POST", f"/payouts/{path_segment(payout_id)}/cancel", who)


# ---- admins ------------------------------------------------------------------


@get("/admin/payouts", guards=[requires("admin")], tags=["admin"],
     summary="Payouts: filter (status, creator, dates, amounts), sort, paginate, or ?format=csv",
     responses=api_problems(403), dependencies=queries.forwarded(queries.payout_page), operation_class=CsvOrJson)
async def list_payouts(
    request: Request, checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[PayoutPage]:
    return await services.payouts.forward(
        "GET", "/admin/payouts", who, params=checked_query, accept=request.headers.get("Accept")
    )


@get("/admin/payouts/stats", guards=[requires("admin")], tags=["admin"],
     summary="Payouts: count and sums per status and currency", responses=api_problems(403),
     dependencies=queries.forwarded(queries.payout_filters))
async def payout_stats(
    checked_query: NamedDependency[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[PayoutStats]:
    return await services.payouts.forward("GET", "/admin/payouts/stats", who, params=checked_query)


@post("/admin/payouts/{payout_id:str}/approve", guards=[requires("admin")], tags=["admin"], status_code=200,
      summary="Approve a reserved payout: the transfer and the payout are made at Stripe",
      responses=api_problems(403, 404, 409, 422, 502, meanings={
          403: "Not an admin, or the admin who requested it (separation of duties)",
          502: "Stripe refused or failed the call: the payout stays APPROVED; approving again retries"}))
async def approve_payout(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[Payout]:
    return await services.payouts.forward("POST", f"/admin/payouts/{path_segment(payout_id)}/approve", who)


@post("/admin/payouts/{payout_id:str}/reject", guards=[requires("admin")], tags=["admin"], status_code=200,
      summary="Reject a reserved payout (body: reason, required)",
      responses=api_problems(403, 404, 409, 422, body=True))
async def reject_payout(
    payout_id: FromPath[str],
    data: JSONBody[DecisionBody],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[Payout]:
    return await services.payouts.forward(
        "POST", f"/admin/payouts/{path_segment(payout_id)}/reject", who, json=data.model_dump(exclude_unset=True)
    )


@post("/admin/payouts/{payout_id:str}/void", guards=[requires("admin")], tags=["admin"], status_code=200,
      summary="Void an approved payout Stripe cannot pay out (body: reason, required): the transfer is "
              "reversed, the payout fails and the creator's funds are released",
      responses=api_problems(403, 404, 409, 422, 502, body=True))
async def void_payout(
    payout_id: FromPath[str],
    data: JSONBody[DecisionBody],
    who: NamedDependency[Identity],
    services: NamedDependency[Services],
) -> Response[Payout]:
    return await services.payouts.forward(
        "POST", f"/admin/payouts/{path_segment(payout_id)}/void", who, json=data.model_dump(exclude_unset=True)
    )


@get("/admin/payouts/{payout_id:str}/audit", guards=[requires("admin")], tags=["admin"],
     summary="A payout's audit trail, oldest first, with its hash chain", responses=api_problems(403, 404))
async def get_payout_audit(
    payout_id: FromPath[str], who: NamedDependency[Identity], services: NamedDependency[Services]
) -> Response[PayoutAudit]:
    return await services.payouts.forward("GET", f"/admin/payouts/{path_segment(payout_id)}/audit", who)


# Money leaves (or is set aside to leave) here: the app puts these behind the
# tighter per-user rate limit.
sensitive_route_handlers = [request_payout, approve_payout, reject_payout, void_payout]
route_handlers = [create_payout_account, get_payout_account, list_own_payouts, get_payout, cancel_payout,
                  list_payouts, payout_stats, get_payout_audit]
