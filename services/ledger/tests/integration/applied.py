"""Events straight through the ledger's handlers, in the caller's transaction:
no inbox and no parking, for tests that build a ledger from known events."""

from sqlalchemy.ext.asyncio import AsyncSession

from common.applying import Applying
from contracts.envelope import Event
from ledger.handlers import handlers
from ledger.settings import Settings


async def apply(session: AsyncSession, *events: Event) -> None:
    """Each event by the handler of its type, in order."""
    for event in events:
        await handlers.subscriptions[event.TOPIC].handler([event], Applying(session, Settings()))
