"""A fixtures file for stripe-mock with a non-zero processing fee.

stripe-mock answers every balance transaction with `fee: 0`, so the fee path
could never be seen. This derives a fixtures file from the installed
stripe-mock's own (the module source `go install` left in GOMODCACHE) with the
balance transaction's fee set to FEE_MINOR; it is written into the stack's state
folder at start-up and never committed.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from stack.config import STRIPE_MOCK_VERSION, StackConfig
from stack.procs import StackError

FEE_MINOR = 175  # what every balance transaction of the derived fixtures charges


def bundled(version: str = STRIPE_MOCK_VERSION) -> Path:
    """stripe-mock's own fixtures, in the Go module cache."""
    modcache = os.environ.get("GOMODCACHE") or subprocess.run(
        ["go", "env", "GOMODCACHE"], capture_output=True, text=True, check=False
    ).stdout.strip() or str(Path.home() / "go" / "pkg" / "mod")
    path = Path(modcache) / "github.com" / "stripe" / f"stripe-mock@{version}" / "embedded" / "openapi" / "fixtures3.json"
    if not path.exists():
        raise StackError(f"stripe-mock's fixtures are not at {path} (is stripe-mock {version} installed with go?)")
    return path


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
    """Derive the fixtures into the stack's state folder and return their path."""
    derived = with_fee(json.loads(bundled().read_text()), fee_minor)
    path = cfg.state_dir / "stripe-fixtures.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(derived))
    return path
