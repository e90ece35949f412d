"""The events the ledger applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers).

Entries that read a creator's balance first take the creator's lock
(models.lock_creator), so the `available` a shortfall is computed from is the
one the entry lands on.
"""

from ledger.handlers import earnings, payouts
from ledger.handlers.earnings import on_payment_succeeded, on_refund_created
from ledger.handlers.payouts import on_payout_requested
from ledger.handlers.registry import handlers

__all__ = ["earnings", "handlers", "on_payment_succeeded", "on_payout_requested", "on_refund_created", "payouts"]
