"""The events the ledger applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers)."""

from sqlalchemy.ext.asyncio import AsyncSession

from common import outbox
from contracts.envelope import Event
from contracts.events.ledger import BalanceChanged, BalanceChangedData
from contracts.events.payments import PaymentFeeRecorded, PaymentSucceeded
from common.consumers import EventHandlers
from ledger import domain, models

PRODUCER = "ledger"

handlers = EventHandlers()


@handlers.on(PaymentSucceeded)
async def on_payment_succeeded(event: PaymentSucceeded, session: AsyncSession) -> None:
    data = event.data
    postings = domain.payment_postings(
        data.creator_id, data.price_minor, data.creator_share_minor, data.currency
    )
    entry_id = await models.post_entry(
        session, cause_event_id=event.event_id, kind="payment", creator_id=data.creator_id, postings=postings
    )
    if entry_id is not None:
        await announce_balance(session, data.creator_id, data.currency, entry_id, cause=event)


@handlers.on(PaymentFeeRecorded)
async def on_payment_fee_recorded(event: PaymentFeeRecorded, session: AsyncSession) -> None:
    data = event.data
    await models.post_entry(
        session,
        cause_event_id=event.event_id,
        kind="processing_fee",
        creator_id=data.creator_id,
        postings=domain.fee_postings(data.fee_minor, data.currency),
    )


async def announce_balance(session: AsyncSession, creator_id: str, currency: str, entry_id, *, cause: Event) -> None:
    balance = next(
        b for b in await models.creator_balances(session, creator_id) if b.currency == currency
    )
    await outbox.add(
        session,
        BalanceChanged.new(
            BalanceChangedData(
                creator_id=creator_id,
                currency=currency,
                journal_entry_id=str(entry_id),
                available_minor=balance.available_minor,
                disputed_minor=balance.disputed_minor,
                reserved_minor=balance.reserved_minor,
                debt_minor=balance.debt_minor,
            ),
            producer=PRODUCER,
            creator_id=creator_id,
            cause=cause,
        ),
    )
