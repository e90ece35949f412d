"""An exception nobody handled: logged with its traceback and the correlation id,
answered as an RFC 9457 problem with nothing of the inside in it. Checked on a
real service app and on the gateway, each with a test-only route that raises."""

import json
import uuid

from litestar import Litestar, get
from litestar.testing import AsyncTestClient

from common.http import CORRELATION_HEADER
from gateway.app import create_app as create_gateway
from gateway.settings import Settings as GatewaySettings
from ledger.app import create_app as create_ledger
from ledger.settings import Settings as LedgerSettings

SECRET = "database password hunter2 at 10.0.0.7"


@get("/test-only/boom", sync_to_thread=False)
def boom() -> None:
    raise RuntimeError(SECRET)


def logged(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


async def check_unhandled_exception(app: Litestar, capsys) -> None:
    app.register(boom)
    correlation_id = f"test-{uuid.uuid4()}"
    async with AsyncTestClient(app) as client:
        response = await client.get("/test-only/boom", headers={CORRELATION_HEADER: correlation_id})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 500 and problem["title"] == "Internal Server Error"
    assert SECRET not in response.text and "RuntimeError" not in response.text and "Traceback" not in response.text
    lines = [line for line in logged(capsys.readouterr().out) if line.get("correlation_id") == correlation_id]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert len(errors) == 1, lines
    assert "Traceback (most recent call last)" in errors[0]["exc_info"]
    assert f"RuntimeError: {SECRET}" in errors[0]["exc_info"]
    assert "in boom" in errors[0]["exc_info"]


async def test_a_service_logs_and_hides_an_unhandled_exception(infra, capsys) -> None:
    await check_unhandled_exception(create_ledger(LedgerSettings(invariant_check_interval_s=0)), capsys)


async def test_the_gateway_logs_and_hides_an_unhandled_exception(capsys) -> None:
    await check_unhandled_exception(create_gateway(GatewaySettings(metrics_port=0)), capsys)
