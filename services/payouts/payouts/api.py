"""Payouts' internal HTTP API, called by the gateway only: creators' payout
accounts and requests, admins' decisions."""

import logging
import uuid
from typing import Annotated, Any, TypeAlias

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody
from litestar.plugins.problem_details import ProblemDetailsException
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.dialects.postgresql import insert

from common.http import require_role
from common.money import CurrencyCode, MinorUnits
from common.service import DatabaseDep, IdentityDep, RuntimeDep
from common.stripe_api import StripeCallFailed
from payouts import admin_api, approval, models, state_changes
from payouts.domain.accounts import check_account_ready
from payouts.domain.amounts import check_request
from payouts.domain.approval import check_reason
from payouts.domain.audit import Actor, broken_link_of_one_payout
from payouts.domain.errors import CurrencyNotHeld, IdempotencyKeyReused, PayoutError, PayoutNotFound
from payouts.domain.transitions import Move, State, Trigger, decide_for
from payouts.models import Payout, PayoutAccount
from payouts.response_bodies import account_view, payout_view
from payouts.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)

# Provided by payouts.app.create_app, as `stripe_gateway`.
StripeGatewayDep: TypeAlias = NamedDependency[StripeGateway]


@get("/balances/{creator_id:str}")
async def get_balances(creator_id: FromPath[str], db: DatabaseDep, who: IdentityDep) -> dict:
    """The creator's balances as payouts last heard them from the ledger (minor units)."""
    if who.role != "admin":
        require_role(who, "creator")
        if who.user_id != creator_id:
            raise NotFoundException("no such creator")
    async with db.transaction() as session:
        balances = await models.creator_balances(session, creator_id)
    return {
        "creator_id": creator_id,
        "balances": [
            {
                "currency": b.currency,
                "available_minor": b.available_minor,
                "disputed_minor": b.disputed_minor,
                "reserved_minor": b.reserved_minor,
                "debt_minor": b.debt_minor,
                "as_of": b.as_of.isoformat(),
            }
            for b in balances
        ],
    }


# ---- payout accounts ---------------------------------------------------------


@post("/payouts/account")
async def create_payout_account(
    db: DatabaseDep, who: IdentityDep, runtime: RuntimeDep, stripe_gateway: StripeGatewayDep
) -> Response[dict[str, Any]]:
    """The creator's connected account (created once) and a fresh onboarding link.

    Our row is committed first, then Stripe is called with the key
    `account:{creator_id}`, then the account id is stored: a crash in between is
    repaired by calling again (Stripe answers the same key with the same account).
    """
    require_role(who, "creator")
    async with db.transaction() as session:
        await session.execute(
            insert(PayoutAccount)
            .values(creator_id=who.user_id, payouts_enabled=False, charges_enabled=False,
                    details_submitted=False, requirements={})
            .on_conflict_do_nothing(index_elements=[PayoutAccount.creator_id])
        )
        account = await models.get_account(session, who.user_id)
    if account.stripe_account_id is None:
        created = await stripe_gateway.create_account(who.user_id)
        async with db.transaction() as session:
            account = await models.get_account(session, who.user_id, for_update=True)
            if account.stripe_account_id is None:  # a concurrent call may have stored it (same account)
                account.stripe_account_id = created.id
                account.payouts_enabled = created.payouts_enabled
                account.charges_enabled = created.charges_enabled
                account.details_submitted = created.details_submitted
                account.requirements = created.requirements
    settings = runtime.settings
    url = await stripe_gateway.create_onboarding_link(
        account.stripe_account_id, return_url=settings.connect_return_url, refresh_url=settings.connect_refresh_url
    )
    return Response({**account_view(account), "onboarding_url": url}, status_code=201)


@get("/payouts/account")
async def get_payout_account(
    db: DatabaseDep, who: IdentityDep, creator_id: FromQuery[str | None] = None
) -> dict[str, Any]:
    """The caller's account; an admin may name a creator with `?creator_id=`."""
    if who.role == "admin" and creator_id is not None:
        owner = creator_id
    else:
        require_role(who, "creator")
        owner = who.user_id
    async with db.transaction() as session:
        account = await models.get_account(session, owner)
    if account is None or account.stripe_account_id is None:
        raise NotFoundException("no payout account yet: POST /payouts/account creates one")
    return account_view(account)


# ---- requests ----------------------------------------------------------------


class PayoutRequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_minor: MinorUnits | None = Field(default=None, description="Gross amount in minor units")
    all: bool = Field(default=False, description="Ask for all that is available instead of an amount")
    currency: CurrencyCode


@post("/payouts")
async def request_payout(
    data: JSONBody[PayoutRequestBody],
    db: DatabaseDep,
    who: IdentityDep,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key", max_length=200)] = None,
) -> Response[dict[str, Any]]:
    """REQUESTED, audited, `payout.requested` queued; the ledger answers with a
    reservation or a refusal. The same Idempotency-Key with the same body gives
    the same payout (200); with another body, 409."""
    require_role(who, "creator")
    currency = data.currency.upper()
    minimum = runtime.settings.payout_min_minor
    check_request(data.amount_minor, data.all, minimum)
    async with db.transaction() as session:
        if idempotency_key is not None:
            existing = await models.get_payout_by_key(session, who.user_id, idempotency_key)
            if existing is not None:
                return _replayed(existing, data, currency)
        check_account_ready(await models.get_account(session, who.user_id))
        if currency not in {b.currency for b in await models.creator_balances(session, who.user_id)}:
            raise CurrencyNotHeld(f"you have no balance in {currency}")
        payout = await models.insert_payout(session, {
            "id": uuid.uuid4(), "creator_id": who.user_id, "currency": currency, "all_available": data.all,
            "requested_minor": data.amount_minor, "minimum_minor": minimum, "state": State.REQUESTED,
            "funds_reserved": False, "requested_by": who.user_id, "idempotency_key": idempotency_key,
        })
        if payout is None:  # a concurrent request with the same key won
            existing = await models.get_payout_by_key(session, who.user_id, idempotency_key)
            return _replayed(existing, data, currency)
        await state_changes.request(session, payout, Actor(who.user_id, "creator"))
    return Response(payout_view(payout), status_code=201)


def _replayed(payout: Payout, data: PayoutRequestBody, currency: str) -> Response[dict[str, Any]]:
    if (payout.requested_minor, payout.all_available, payout.currency) != (data.amount_minor, data.all, currency):
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different payout request")
    return Response(payout_view(payout), status_code=200)


@post("/payouts/{payout_id:uuid}/cancel", status_code=200)
async def cancel_payout(payout_id: FromPath[uuid.UUID], db: DatabaseDep, who: IdentityDep) -> dict[str, Any]:
    require_role(who, "creator")
    async with db.transaction() as session:
        payout = await models.get_payout_for_update(session, payout_id)
        if payout is None or payout.creator_id != who.user_id:
            raise PayoutNotFound(f"no payout {payout_id}")
        outcome = decide_for(payout, Trigger.CANCEL)
        assert isinstance(outcome, Move)  # the table refuses (raised) or moves a cancel
        await state_changes.move(session, payout, outcome, Actor(who.user_id, "creator"))
    return payout_view(payout)


@get("/payouts")
async def list_own_payouts(
    db: DatabaseDep,
    who: IdentityDep,
    status: FromQuery[list[str] | None] = None,
    limit: FromQuery[int] = 50,
    cursor: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """The creator's payouts, newest first (cursor from `next_cursor`)."""
    require_role(who, "creator")
    filters = admin_api.Filters(statuses=tuple(s.upper() for s in status or ()), creator_id=who.user_id)
    return await admin_api.page(db, filters, "created_at", "desc", min(max(limit, 1), 200), cursor, admin=False)


@get("/payouts/{payout_id:uuid}")
async def get_payout(payout_id: FromPath[uuid.UUID], db: DatabaseDep, who: IdentityDep) -> dict[str, Any]:
    async with db.transaction() as session:
        payout = await models.get_payout(session, payout_id)
    if payout is None or who.role != "admin" and who.user_id != payout.creator_id:
        raise PayoutNotFound(f"no payout {payout_id}")
    return payout_view(payout, admin=who.role == "admin")


# ---- admin decisions ---------------------------------------------------------


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


@post("/admin/payouts/{payout_id:uuid}/approve", status_code=200)
async def approve_payout(
    payout_id: FromPath[uuid.UUID], db: DatabaseDep, who: IdentityDep, stripe_gateway: StripeGatewayDep
) -> dict[str, Any]:
    require_role(who, "admin")
    payout = await approval.approve_payout(db, stripe_gateway, payout_id, who)
    return payout_view(payout, admin=True)


@post("/admin/payouts/{payout_id:uuid}/reject", status_code=200)
async def reject_payout(
    payout_id: FromPath[uuid.UUID], data: JSONBody[RejectBody], db: DatabaseDep, who: IdentityDep
) -> dict[str, Any]:
    require_role(who, "admin")
    reason = check_reason(data.reason)
    async with db.transaction() as session:
        payout = await models.get_payout_for_update(session, payout_id)
        if payout is None:
            raise PayoutNotFound(f"no payout {payout_id}")
        outcome = decide_for(payout, Trigger.REJECT)
        assert isinstance(outcome, Move)  # the table refuses (raised) or moves a reject
        payout.reason = reason
        await state_changes.move(session, payout, outcome, Actor(who.user_id, "admin"), reason=reason)
    return payout_view(payout, admin=True)


@post("/admin/payouts/{payout_id:uuid}/void", status_code=200)
async def void_payout(
    payout_id: FromPath[uuid.UUID], data: JSONBody[RejectBody], db: DatabaseDep, who: IdentityDep,
    stripe_gateway: StripeGatewayDep,
) -> dict[str, Any]:
    """An APPROVED payout Stripe will not pay out (body: reason, required): the
    transfer is reversed and the payout FAILS, releasing the creator's funds."""
    require_role(who, "admin")
    payout = await approval.void_payout(db, stripe_gateway, payout_id, who, data.reason)
    return payout_view(payout, admin=True)


@get("/admin/payouts/{payout_id:uuid}/audit")
async def get_payout_audit(payout_id: FromPath[uuid.UUID], db: DatabaseDep, who: IdentityDep) -> dict[str, Any]:
    require_role(who, "admin")
    async with db.transaction() as session:
        if await models.get_payout(session, payout_id) is None:
            raise PayoutNotFound(f"no payout {payout_id}")
        rows = await models.payout_audit(session, payout_id)
        predecessors = await models.predecessor_hashes(session, [row.seq for row in rows])
    broken = broken_link_of_one_payout(
        ((row.seq, row.prev_hash, row.hash, row.record()) for row in rows), predecessors)
    return {
        "payout_id": str(payout_id),
        # Checked as it is read: each row's hash covers its content and links to the row before it.
        "chain": {"intact": broken is None, "broken_at_seq": broken.seq if broken else None,
                  "problem": broken.problem if broken else None},
        "items": [
            {
                "seq": row.seq, "id": str(row.id), "actor_id": row.actor_id, "actor_role": row.actor_role,
                "old_state": row.old_state, "new_state": row.new_state, "reason": row.reason,
                "metadata": row.metadata_, "created_at": row.created_at.isoformat(),
                "prev_hash": row.prev_hash, "hash": row.hash,
            }
            for row in rows
        ],
    }


def _payout_error(request: Request, error: PayoutError) -> Response[dict[str, Any]]:
    problem = ProblemDetailsException(
        status_code=error.status, title=type(error).__name__, detail=str(error), extra={"reason": error.reason}
    )
    return problem.to_response(request)


def _stripe_failed(request: Request, error: StripeCallFailed) -> Response[dict[str, Any]]:
    log.warning("stripe call failed: %s (%s)", error, error.code)
    problem = ProblemDetailsException(
        status_code=502, title="Stripe call failed",
        detail=f"{error.public_detail}; the payout stays APPROVED: approving it again retries, voiding it gives the funds back",
        extra={"reason": "stripe_error", "code": error.code},
    )
    return problem.to_response(request)


route_handlers = [
    get_balances, create_payout_account, get_payout_account, request_payout, cancel_payout, list_own_payouts,
    get_payout, approve_payout, reject_payout, void_payout, get_payout_audit,
]

exception_handlers = {PayoutError: _payout_error, StripeCallFailed: _stripe_failed}
