"""Each service's migrations form one line: two branches merged with a
migration each (two heads) would make `migrate` refuse to start the service."""

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

SERVICES = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("service", ["ledger", "notifications", "payments", "payouts"])
def test_a_service_s_migrations_have_one_head(service):
    config = Config()
    config.set_main_option("script_location", str(SERVICES / service / "migrations"))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"{service} has several migration heads: {heads}"
