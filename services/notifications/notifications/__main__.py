import sys
from pathlib import Path

from common.service import main
from notifications.app import create_app
from notifications.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

sys.exit(
    main("notifications", settings_factory=Settings, app_factory=create_app, migrations_dir=MIGRATIONS)
)
