"""The local stack runner itself: infrastructure only (the `infra` fixture)."""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import asyncpg
import pytest
import stripe

from contracts import topics
from stack import mail
from stack.config import SERVICES, StackConfig
from stack.kafka import describe_partitions


async def test_every_contract_topic_and_its_dlq_exist_with_the_configured_partitions(infra):
    expected = [name for topic in topics.ALL for name in (topic, topics.dlq(topic))]

    found = await describe_partitions(infra.kafka, expected)

    assert found == {name: infra.partitions for name in expected}


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_database_accepts_its_own_role(infra, service):
    conn = await asyncpg.connect(infra.asyncpg_dsn(service))
    try:
        row = await conn.fetchrow("SELECT current_user AS role, current_database() AS db")
    finally:
        await conn.close()

    assert (row["role"], row["db"]) == (service, service)


async def test_a_wrong_password_is_refused(infra):
    dsn = infra.asyncpg_dsn("payments").replace("payments:payments@", "payments:wrong@")

    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(dsn)


def test_stripe_mock_answers_the_stripe_client(infra):
    client = stripe.StripeClient(infra.stripe_api_key, base_addresses={"api": infra.stripe_api_base})

    intent = client.v1.payment_intents.create(params={"amount": 10000, "currency": "eur"})

    assert intent.id.startswith("pi_")
    assert intent.amount == 10000


def test_a_mail_sent_to_the_sink_is_read_back(infra):
    subject = f"hello {uuid.uuid4()}"
    message = EmailMessage()
    message["From"] = "noreply@callastar.test"
    message["To"] = "creator@example.test"
    message["Subject"] = subject
    message.set_content("Your payout was approved: 85,00 €")

    with smtplib.SMTP(infra.smtp_host, infra.smtp_port, timeout=5) as smtp:
        smtp.send_message(message)

    received = [m for m in mail.wait_for_messages(infra.maildir, timeout=10) if m["Subject"] == subject]
    assert len(received) == 1
    assert received[0]["To"] == "creator@example.test"
    assert "85,00 €" in received[0].get_content()


def test_the_environment_is_exported_for_in_process_code(infra):
    import os

    assert os.environ["CALLASTAR_KAFKA_BOOTSTRAP_SERVERS"] == infra.kafka_bootstrap
    assert os.environ["CALLASTAR_PAYMENTS_DATABASE_URL"].startswith("postgresql+asyncpg://payments:payments@")


def test_profiles_never_share_ports_or_state():
    dev, test = StackConfig.for_profile("dev", environ={}), StackConfig.for_profile("test", environ={})

    assert not set(dev.ports.values()) & set(test.ports.values())
    assert dev.state_dir != test.state_dir
    assert dev.env()["CALLASTAR_GATEWAY_PORT"] == "8000"
    assert test.env()["CALLASTAR_GATEWAY_PORT"] == "9000"


def test_environment_wins_over_defaults_but_not_over_addresses():
    cfg = StackConfig.for_profile("dev", environ={
        "CALLASTAR_JWT_SECRET": "from-env",
        "CALLASTAR_KAFKA_BOOTSTRAP_SERVERS": "elsewhere:9092",
        "CALLASTAR_STACK_DEV_GATEWAY_PORT": "8080",
    })

    env = cfg.env()

    assert env["CALLASTAR_JWT_SECRET"] == "from-env"
    assert env["CALLASTAR_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:59092"
    assert env["CALLASTAR_GATEWAY_PORT"] == "8080"


def test_a_real_stripe_test_key_is_not_pointed_at_the_mock():
    cfg = StackConfig.for_profile("dev", environ={"CALLASTAR_STRIPE_API_KEY": "sk_test_real"})

    env = cfg.env()

    assert env["CALLASTAR_STRIPE_API_KEY"] == "sk_test_real"
    assert "CALLASTAR_STRIPE_API_BASE" not in env


def test_replicas_give_each_instance_its_port_and_the_gateway_every_instance():
    cfg = StackConfig.for_profile("test", {"CALLASTAR_STACK_REPLICAS": "ledger=2,payments=3"})

    assert [cfg.replicas(s) for s in ("payments", "ledger", "payouts")] == [3, 2, 1]
    assert cfg.instance_port("ledger", 2) == cfg.ports["ledger"] + 100
    assert cfg.env()["CALLASTAR_GATEWAY_PAYMENTS_URL"].split(",") == [
        f"http://127.0.0.1:{cfg.ports['payments'] + 100 * n}" for n in range(3)]
    assert cfg.env()["CALLASTAR_GATEWAY_PAYOUTS_URL"] == f"http://127.0.0.1:{cfg.ports['payouts']}"
    taken = [cfg.instance_port(s, n) for s in SERVICES for n in (1, 2, 3)] + [
        port for name, port in cfg.ports.items() if name not in SERVICES]
    assert len(taken) == len(set(taken))


@pytest.mark.parametrize("replicas", ["ledger=0", "ledger=7", "billing=2", "ledger"])
def test_bad_replicas_are_refused(replicas):
    with pytest.raises(ValueError, match="bad replicas"):
        StackConfig.for_profile("test", {"CALLASTAR_STACK_REPLICAS": replicas}).replicas("ledger")
