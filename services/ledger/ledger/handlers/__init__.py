"""The events the ledger applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.consumers).

Entries that read a creator's balance first take the creator's lock
(models.lock_creators), so the `available` a shortfall is computed from is the
one the entry lands on.
"""

from ledger.handlers import disputes, earnings, payouts, refunds  # noqa: F401 - importing them registers their handlers
from ledger.handlers.registry import handlers

__all__ = ["handlers"]
