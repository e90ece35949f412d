"""docker-compose.yml (which cannot run here: no Docker) held to the Compose
specification's JSON schema (the copy check-jsonschema ships, so nothing is
downloaded) and to the code it mirrors: no secret with a default, only the gateway
published, the broker secured as the local one is, and a `./callastar secrets` .env
that every service accepts in production."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

from stack.config import repo_root
from stack.kafka import broker_security, image_env
from stack.secrets import env_file, required

COMPOSE = repo_root() / "docker-compose.yml"
SERVICES = ("gateway", "payments", "ledger", "payouts", "notifications")
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "API_KEY")
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}")


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${NAME}, ${NAME:-default} and ${NAME:?message}."""
    def one(match: re.Match) -> str:
        name, kind, rest = match.groups()
        if env.get(name):
            return env[name]
        if kind == "-":
            return rest
        raise KeyError(name)

    return VARIABLE.sub(one, str(value))


def compose_spec_errors(path) -> str:
    """What the Compose specification's schema finds wrong in the file at `path` ('' if nothing)."""
    done = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                           str(path)], capture_output=True, text=True, timeout=120)
    return "" if done.returncode == 0 else done.stdout + done.stderr


def test_the_compose_file_follows_the_compose_specification():
    assert compose_spec_errors(COMPOSE) == ""


def test_a_compose_file_against_the_specification_fails(tmp_path):
    broken = compose()
    broken["services"]["gateway"]["ports"] = "8000:8000"  # a list in the specification
    broken["services"]["ledger"]["restart_policy"] = "always"  # no such key
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))

    errors = compose_spec_errors(path)

    assert "$.services.gateway.ports: '8000:8000' is not of type 'array'" in errors
    assert "'restart_policy' was unexpected" in errors


def test_no_secret_has_a_default():
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in SECRET_WORDS) and "JAAS" not in key:
                assert ":-" not in str(value) and "${" in str(value), f"{name}: {key} = {value}"


def test_only_the_gateway_is_published():
    published = {name for name, service in compose()["services"].items() if service.get("ports")}

    assert published == {"gateway"}


def test_the_broker_is_secured_as_the_local_one():
    kafka_env = compose()["services"]["kafka"]["environment"]
    expected = image_env(broker_security("${CALLASTAR_KAFKA_ADMIN_PASSWORD}", listeners=("CLIENT",)))

    assert {key: kafka_env.get(key) for key in expected} == expected
    assert kafka_env["KAFKA_LISTENERS"].split(",") == ["CLIENT://0.0.0.0:9092", "CONTROLLER://0.0.0.0:9093"]


def test_the_generated_secrets_cover_everything_compose_requires():
    generated = dict(line.split("=", 1) for line in env_file(COMPOSE).splitlines() if not line.startswith("#"))

    assert set(generated) == set(required(COMPOSE))
    assert len(set(generated.values())) == len(generated)  # no two secrets alike
    assert all(len(value) >= 32 for value in generated.values())


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_accepts_the_generated_secrets_in_production(service):
    generated = dict(line.split("=", 1) for line in env_file(COMPOSE).splitlines() if not line.startswith("#"))
    declared = compose()["services"][service]["environment"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLASTAR_")}
    env |= {key: interpolate(value, generated) for key, value in declared.items()}
    assert env["CALLASTAR_ENV"] == "production"
    code = f"from {service}.settings import Settings; Settings()"

    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr[-2000:]
