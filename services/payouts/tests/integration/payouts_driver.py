"""Helpers of payouts' integration tests: a recording Stripe client and a
driver playing the gateway, the ledger and Stripe's webhooks."""

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from litestar.testing import AsyncTestClient

from common.db import Database
from common.tables import outbox
from contracts.events.ledger import BalanceChanged, BalanceChangedData
from contracts.events.payouts import FundsRejectedData, FundsReservedData, PayoutFundsRejected, PayoutFundsReserved
from contracts.events.stripe import StripeEventReceived, StripeEventReceivedData
from tests.support.internal_calls import as_caller


def headers(user_id: str, role: str) -> dict[str, str]:
    return as_caller("payouts", user_id, role)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def eventually(check: Callable[[], Awaitable[Any]], what: str, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy, with a deadline."""
    deadline = time.monotonic() + timeout
    while not (result := await check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.1)
    return result


def stripe_event(event_type: str, stripe_object: dict[str, Any], *, account: str | None) -> StripeEventReceived:
    """A Connect event as the gateway publishes it after checking Stripe's signature."""
    evt = f"evt_{uuid.uuid4().hex[:16]}"
    created = int(time.time())
    payload = {
        "id": evt, "object": "event", "type": event_type, "account": account, "created": created,
        "livemode": False, "api_version": "2026-08-26.dahlia", "data": {"object": stripe_object},
    }
    return StripeEventReceived.new(
        StripeEventReceivedData(
            stripe_event_id=evt, type=event_type, account=account, connect=True, livemode=False,
            api_version=payload["api_version"], created=created, object_id=stripe_object.get("id"), payload=payload,
        ),
        producer="gateway", creator_id=None, event_id=StripeEventReceived.event_id_for(evt),
    )


@dataclass
class Payouts:
    """Drives the service as the gateway, the ledger and Stripe would."""

    client: AsyncTestClient
    publish: Callable[..., Awaitable[None]]
    db: Database

    async def onboarded_creator(self, available: int = 100_000, currency: str = "EUR") -> tuple[str, str]:
        """A creator whose connected account can receive payouts and who has a balance."""
        creator = new_id("creator")
        created = await self.client.post("/payouts/account", headers=headers(creator, "creator"))
        assert created.status_code == 201, created.text
        account = created.json()["stripe_account_id"]
        await self.publish(
            stripe_event("account.updated", {"id": account, "object": "account", "payouts_enabled": True,
                                              "charges_enabled": True, "details_submitted": True,
                                              "requirements": {"currently_due": [], "disabled_reason": None}},
                         account=account),
            BalanceChanged.new(
                BalanceChangedData(creator_id=creator, currency=currency, journal_entry_id=str(uuid.uuid4()),
                                   available_minor=available),
                producer="ledger", creator_id=creator,
            ),
        )

        async def ready() -> bool:
            account_view = await self.client.get("/payouts/account", headers=headers(creator, "creator"))
            balances = await self.client.get(f"/balances/{creator}", headers=headers(creator, "creator"))
            return account_view.json()["payouts_enabled"] and bool(balances.json()["balances"])

        await eventually(ready, "account enabled and balance known")
        return creator, account

    async def request(self, creator: str, amount: int | None = 20_000, currency: str = "EUR", **extra: Any) -> dict:
        body = {"amount_minor": amount, "currency": currency} if amount is not None else {"all": True, "currency": currency}
        response = await self.client.post("/payouts", json=body, headers=headers(creator, "creator"), **extra)
        assert response.status_code == 201, response.text
        return response.json()

    async def get(self, payout_id: str) -> dict:
        response = await self.client.get(f"/payouts/{payout_id}", headers=headers("admin_reader", "admin"))
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for(self, payout_id: str, predicate: Callable[[dict], bool], what: str) -> dict:
        async def check() -> dict | None:
            payout = await self.get(payout_id)
            return payout if predicate(payout) else None

        return await eventually(check, f"payout {payout_id}: {what}")

    async def reserve(self, payout: dict, gross: int | None = None, debt: int = 0) -> dict:
        """Answer as the ledger does after reserving the funds."""
        gross = gross if gross is not None else payout["requested_minor"]
        await self.publish(PayoutFundsReserved.new(
            FundsReservedData(payout_id=payout["payout_id"], creator_id=payout["creator_id"],
                              currency=payout["currency"], amount_minor=gross, debt_deducted_minor=debt,
                              net_minor=gross - debt),
            producer="ledger", creator_id=payout["creator_id"],
        ))
        return await self.wait_for(payout["payout_id"], lambda p: p["funds_reserved"], "funds reserved")

    async def refuse_funds(self, payout: dict, reason: str) -> None:
        await self.publish(PayoutFundsRejected.new(
            FundsRejectedData(payout_id=payout["payout_id"], creator_id=payout["creator_id"],
                              currency=payout["currency"], reason=reason, detail=f"refused: {reason}",
                              available_minor=0, debt_minor=9000),
            producer="ledger", creator_id=payout["creator_id"],
        ))

    async def approve(self, payout_id: str, admin: str = "admin_1"):  # noqa: ANN201
        return await self.client.post(f"/admin/payouts/{payout_id}/approve", headers=headers(admin, "admin"))

    async def events(self, creator: str) -> list[tuple[str, dict]]:
        """The events payouts queued about this creator, in order (topic, data)."""
        async with self.db.transaction() as session:
            rows = await session.execute(
                sa.select(outbox.c.topic, outbox.c.payload).where(outbox.c.key == creator.encode()).order_by(outbox.c.id)
            )
            return [(topic, json.loads(payload)["data"]) for topic, payload in rows]
