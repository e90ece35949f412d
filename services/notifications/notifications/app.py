import asyncio
import logging
from datetime import timedelta

from litestar import Litestar

from common.db import Database
from common.service import Runtime, create_service_app
from notifications import api, models
from notifications.handlers import handlers
from notifications.mailer import Mailer, queue_depth
from notifications.settings import Settings

log = logging.getLogger(__name__)


async def purge(db: Database, retention_days: int) -> int:
    """Retention: delete what is older than `retention_days`; how many went."""
    async with db.transaction() as session:
        purged = await models.purge_older_than(session, timedelta(days=retention_days))
    log.info("retention: purged %d notification(s) older than %d days", purged, retention_days)
    return purged


async def _purge_periodically(db: Database, settings: Settings) -> None:
    while True:
        try:
            await purge(db, settings.retention_days)
        except Exception:  # noqa: BLE001 - the database may be away; next round
            log.exception("retention purge failed")
        await asyncio.sleep(settings.purge_interval_s)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings()

    async def start_background(runtime: Runtime) -> list[asyncio.Task]:
        mailer = Mailer(runtime.db, settings)
        runtime.db.after_commit(mailer.wake_if_queued)
        return [
            asyncio.create_task(mailer.run(), name="notifications-mailer"),
            asyncio.create_task(_purge_periodically(runtime.db, settings), name="notifications-retention"),
        ]

    return create_service_app(
        "notifications",
        settings,
        route_handlers=api.route_handlers,
        handlers=handlers,
        on_start=start_background,
        gauges=lambda runtime: [queue_depth(runtime.db)],
    )
