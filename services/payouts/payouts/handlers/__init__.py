"""The events payouts applies. Each runs inside the consumer's transaction,
after the inbox has claimed the event id (see common.applying).

- `balances`: the creators' balances the ledger announces
- `ledger_answers`: the ledger's reservation or refusal of a requested payout
- `stripe_events`: Connect's account.updated, payout.paid and payout.failed
"""

# Importing them registers their handlers.
from payouts.handlers import balances, ledger_answers, stripe_events  # noqa: F401
from payouts.handlers.registry import Needs, handlers

__all__ = ["Needs", "handlers"]
