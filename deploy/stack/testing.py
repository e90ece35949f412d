"""Test backends behind the root conftest's `infra` and `stack` fixtures.

CALLASTAR_TEST_STACK picks one:
  local       (default) this runner, profile `test` (ports +1000, state in .state/test)
  containers  PostgreSQL, Kafka and stripe-mock from testcontainers (needs Docker);
              the SMTP sink and the services run as local processes
  external    everything already running; addresses read from the environment
"""

from __future__ import annotations

import os
import time

import httpx

from stack.config import SERVICES, StackConfig
from stack.handle import StackHandle
from stack.procs import StackError, wait_until
from stack.runner import LocalStack
from stack.stripe_fixtures import FEE_MINOR

# Read by the `external` backend (all required except where a default is shown).
EXTERNAL_VARS = (
    "CALLASTAR_KAFKA_BOOTSTRAP_SERVERS",
    *(f"CALLASTAR_{s.upper()}_DATABASE_URL" for s in SERVICES),
    "CALLASTAR_STRIPE_API_BASE",          # default https://api.stripe.com
    "CALLASTAR_STRIPE_API_KEY",
    "CALLASTAR_SMTP_HOST", "CALLASTAR_SMTP_PORT",
    "CALLASTAR_GATEWAY_URL",              # or CALLASTAR_GATEWAY_PORT (127.0.0.1)
    "CALLASTAR_TEST_MAILDIR",             # optional: where the SMTP sink stores mail
)


class LocalBackend:
    name = "local"

    def __init__(self) -> None:
        # stripe-mock with a non-zero balance transaction fee (see stack.stripe_fixtures),
        # so the tests see Stripe's fee through the SDK and HTTP.
        self.runner = LocalStack(StackConfig.for_profile("test"), stripe_fee_minor=FEE_MINOR,
                                 say=lambda msg: print(f"[stack] {msg}", flush=True))

    def start_infra(self) -> StackHandle:
        # reset=True: stop a leftover test stack and wipe state that does not start
        return self.runner.start_infra(reset=True)

    def start_services(self, handle: StackHandle) -> StackHandle:
        return self.runner.start_services()

    def stop(self) -> None:
        self.runner.stop()


class ExternalBackend:
    name = "external"

    def start_infra(self) -> StackHandle:
        env = {k: v for k, v in os.environ.items() if k.startswith("CALLASTAR_")}
        missing = [k for k in ("CALLASTAR_KAFKA_BOOTSTRAP_SERVERS", "CALLASTAR_STRIPE_API_KEY", "CALLASTAR_SMTP_PORT",
                               *(f"CALLASTAR_{s.upper()}_DATABASE_URL" for s in SERVICES)) if k not in env]
        if missing:
            raise StackError(f"CALLASTAR_TEST_STACK=external needs these environment variables: {', '.join(missing)}")
        maildir = os.environ.get("CALLASTAR_TEST_MAILDIR")
        return StackHandle(env=env, maildir=maildir and __import__("pathlib").Path(maildir))

    def start_services(self, handle: StackHandle) -> StackHandle:
        url = f"{handle.gateway_url}/ready"
        wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, timeout=30, what=f"external gateway ({url})")
        handle.services_started = True
        return handle

    def stop(self) -> None:
        pass


def make_backend(name: str | None = None):
    name = name or os.environ.get("CALLASTAR_TEST_STACK", "local")
    if name == "local":
        return LocalBackend()
    if name == "external":
        return ExternalBackend()
    if name == "containers":
        from stack.containers import ContainersBackend

        return ContainersBackend()
    raise StackError(f"CALLASTAR_TEST_STACK={name!r} is not one of local, containers, external")


def timed(what: str, fn, *args):
    """fn(*args) and the seconds it took (also printed)."""
    t0 = time.monotonic()
    result = fn(*args)
    seconds = time.monotonic() - t0
    print(f"[stack] {what} in {seconds:.1f}s", flush=True)
    return result, seconds
