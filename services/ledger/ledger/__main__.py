import sys
from pathlib import Path

from common.service import main
from ledger import cli
from ledger.app import create_app
from ledger.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

sys.exit(
    main(
        "ledger",
        settings_factory=Settings,
        app_factory=create_app,
        migrations_dir=MIGRATIONS,
        commands={"check": cli.check, "verify-journal": cli.verify_journal, "reconcile": cli.reconcile},
    )
)
