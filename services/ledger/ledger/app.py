import asyncio
import logging
import time

from litestar import Litestar
from prometheus_client import Gauge

from common.service import Runtime, create_service_app
from ledger import api, cli
from ledger.handlers import handlers
from ledger.settings import Settings

log = logging.getLogger(__name__)

INVARIANTS_OK = Gauge("callastar_ledger_invariant_check_ok", "1 if the last invariant check found no problem, else 0")
INVARIANT_PROBLEMS = Gauge("callastar_ledger_invariant_check_problems", "Problems the last invariant check found")
INVARIANTS_CHECKED_AT = Gauge(
    "callastar_ledger_invariant_check_timestamp_seconds", "When the last invariant check finished (0: none yet)",
)


async def check_invariants_periodically(settings: Settings) -> None:
    """`python -m ledger check`'s audit, every interval, its result exported."""
    while True:
        try:
            # In a thread with its own loop: replaying a long journal is CPU work
            # that must not stall this loop's consumers and requests meanwhile.
            result = await asyncio.to_thread(asyncio.run, cli.audit(settings.database_url))
        except Exception:  # noqa: BLE001 - the database may be away; next round
            log.exception("ledger invariant check could not run")
        else:
            INVARIANT_PROBLEMS.set(len(result.problems))
            INVARIANTS_OK.set(0 if result.problems else 1)
            INVARIANTS_CHECKED_AT.set(time.time())
            if result.problems:
                log.error("ledger invariant check FAILED: %d problems, first: %s",
                          len(result.problems), result.problems[0])
        await asyncio.sleep(settings.invariant_check_interval_s)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()

    async def start_background(runtime: Runtime) -> list[asyncio.Task]:
        if not settings.invariant_check_interval_s:
            return []
        return [asyncio.create_task(check_invariants_periodically(settings), name="ledger-invariant-check")]

    return create_service_app(
        "ledger", settings, route_handlers=api.route_handlers, handlers=handlers, needs=lambda runtime: settings,
        on_start=start_background,
    )
