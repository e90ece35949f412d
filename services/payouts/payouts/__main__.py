import sys
from pathlib import Path

from common.service import main
from payouts import cli
from payouts.app import create_app
from payouts.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

sys.exit(
    main(
        "payouts",
        settings_factory=Settings,
        app_factory=create_app,
        migrations_dir=MIGRATIONS,
        commands={"verify-audit": cli.verify_audit, "rebuild-balances": cli.rebuild_balances},
    )
)
