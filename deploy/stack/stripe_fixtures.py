"""A fixtures file for stripe-mock with a non-zero processing fee.

stripe-mock answers every balance transaction with `fee: 0`, so the fee path
could never be seen. This derives a fixtures file from the installed
stripe-mock's own (the copy `stack.stripe_mock.install` keeps beside the binary)
with the balance transaction's fee set to FEE_MINOR; it is written into the
stack's state folder at start-up and never committed.
"""

from __future__ import annotations

import json
from pathlib import Path

from stack import stripe_mock
from stack.config import StackConfig

FEE_MINOR = 175  # what every balance transaction of the derived fixtures charges


def with_fee(fixtures: dict, fee_minor: int) -> dict:
    """`fixtures` with the balance transaction's fee (and its breakdown and net) set to `fee_minor`."""
    resources = dict(fixtures["resources"])
    txn = dict(resources["balance_transaction"])
    txn["fee"] = fee_minor
    txn["net"] = txn["amount"] - fee_minor
    txn["fee_details"] = [
        {"amount": fee_minor, "application": None, "currency": txn["currency"],
         "description": "Stripe processing fees", "type": "stripe_fee"}
    ]
    resources["balance_transaction"] = txn
    return {**fixtures, "resources": resources}


def write_fee_fixtures(cfg: StackConfig, fee_minor: int = FEE_MINOR) -> Path:
    """Derive the fixtures (of the stripe-mock `stripe_mock.install` installed)
    into the stack's state folder and return their path."""
    derived = with_fee(json.loads(stripe_mock.fixtures_path(cfg).read_text()), fee_minor)
    path = cfg.state_dir / "stripe-fixtures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(derived))
    return path
