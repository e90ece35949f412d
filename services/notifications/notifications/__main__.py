import asyncio
import sys
from pathlib import Path

from common.db import Database
from common.service import main
from notifications.app import create_app, purge
from notifications.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def purge_command(settings: Settings) -> int:
    """`python -m notifications purge`: the retention purge, once, now."""

    async def run() -> None:
        db = Database(settings.database_url, pool_size=1)
        try:
            print(f"purged {await purge(db, settings.retention_days)} notification(s)")
        finally:
            await db.dispose()

    asyncio.run(run())
    return 0


sys.exit(
    main("notifications", settings_factory=Settings, app_factory=create_app, migrations_dir=MIGRATIONS,
         commands={"purge": purge_command})
)
