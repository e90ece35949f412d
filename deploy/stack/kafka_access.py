"""Who may do what on Kafka: one SCRAM-SHA-512 principal per service, ACLs that
let each write only the topics it produces (and the dead-letter topics of what it
consumes) and read only the topics it consumes, in its own consumer group (and
the dead-letter topics of what it consumes, to replay them).

Only the gateway may write `stripe.event.received`: anyone else who reaches the
broker could otherwise skip the webhook signature check. The `admin` principal is
the broker's super user: it creates topics, principals and ACLs (this module,
from the local runner, the containers backend or docker-compose's topics job)
and is what the tests connect as.

The consumed topics are declared here, not derived from the code, so that a new
subscription is a visible change to the access rules; a unit test holds the
table against the services' handlers.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from confluent_kafka import KafkaException

from common.kafka import KafkaAccess
from contracts import topics
from contracts.export import producer_of
from stack.config import KAFKA_ADMIN, SERVICES
from stack.procs import StackError

ADMIN = KAFKA_ADMIN
PRINCIPALS: tuple[str, ...] = ("gateway", *SERVICES)
SCRAM_ITERATIONS = 8192

# principal -> topics it reads (its consumer group is its name, except the gateway's
# live push, which reads every partition with no group).
CONSUMES: dict[str, tuple[str, ...]] = {
    "gateway": (topics.NOTIFICATION_CREATED,),
    "payments": (topics.STRIPE_EVENT_RECEIVED,),
    "ledger": (
        topics.PAYMENT_SUCCEEDED, topics.PAYMENT_FEE_RECORDED, topics.REFUND_CREATED, topics.REFUND_FAILED,
        topics.DISPUTE_CREATED, topics.DISPUTE_CLOSED, topics.DISPUTE_FUNDS_WITHDRAWN,
        topics.DISPUTE_FUNDS_REINSTATED, topics.PAYOUT_REQUESTED, topics.PAYOUT_REJECTED, topics.PAYOUT_CANCELED,
        topics.PAYOUT_PAID, topics.PAYOUT_FAILED,
    ),
    "payouts": (
        topics.STRIPE_EVENT_RECEIVED, topics.LEDGER_BALANCE_CHANGED, topics.PAYOUT_FUNDS_RESERVED,
        topics.PAYOUT_FUNDS_REJECTED,
    ),
    "notifications": (
        topics.PAYMENT_SUCCEEDED, topics.PAYMENT_NEEDS_REVIEW, topics.REFUND_CREATED, topics.REFUND_FAILED,
        topics.DISPUTE_CREATED, topics.DISPUTE_UPDATED, topics.DISPUTE_CLOSED, topics.DEBT_CREATED, topics.DEBT_DEDUCTED,
        topics.DEBT_SETTLED, topics.PAYOUT_REQUESTED, topics.PAYOUT_APPROVED, topics.PAYOUT_REJECTED,
        topics.PAYOUT_CANCELED, topics.PAYOUT_BLOCKED, topics.PAYOUT_PROCESSING, topics.PAYOUT_PAID,
        topics.PAYOUT_FAILED,
    ),
}
GROUPS: dict[str, str | None] = {"gateway": None, **{svc: svc for svc in SERVICES}}


@dataclass(frozen=True)
class Grant:
    principal: str
    operation: str  # READ or WRITE
    resource: str  # TOPIC or GROUP
    name: str


def grants(principal: str) -> list[Grant]:
    """Everything `principal` may do; nothing else is allowed."""
    consumed = CONSUMES[principal]
    written = [t for t in topics.ALL if producer_of(t) == principal] + [topics.dlq(t) for t in consumed]
    out = [Grant(principal, "WRITE", "TOPIC", t) for t in written]
    out += [Grant(principal, "READ", "TOPIC", t) for t in consumed]
    if (group := GROUPS[principal]) is not None:
        out.append(Grant(principal, "READ", "GROUP", group))
        # its dead letters, for the replay tools (common.dead_letters; read with no group)
        out += [Grant(principal, "READ", "TOPIC", topics.dlq(t)) for t in consumed]
    return out


def admin_client(admin: KafkaAccess):
    from confluent_kafka.admin import AdminClient

    config = {"bootstrap.servers": admin.bootstrap_servers, "security.protocol": admin.security_protocol,
              "sasl.mechanism": admin.mechanism, "sasl.username": admin.username, "sasl.password": admin.password,
              "log_level": 3}
    if admin.ca_file:
        config["ssl.ca.location"] = admin.ca_file
    return AdminClient(config)


def _wait_until_known(client, users: list[str], timeout: float) -> None:
    """Credentials reach the broker through its metadata log: a login right after the
    upsert can still be refused. The broker answers describe from the same cache it
    authenticates from, so once it lists every user, every login works."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            described = client.describe_user_scram_credentials(users, request_timeout=timeout)
            if all(future.result() for future in described.values()):
                return
        except KafkaException:
            pass  # some user not known yet: ResourceNotFound
        if time.monotonic() > deadline:
            raise StackError(f"Kafka did not take the SCRAM credentials of {', '.join(users)} within {timeout:.0f}s")
        time.sleep(0.2)


def provision(admin: KafkaAccess, passwords: Mapping[str, str], timeout: float = 30.0) -> None:
    """Create or update the SCRAM password of every principal in `passwords` (the
    services', and the super user's so it can log in with SCRAM too) and the
    services' ACLs; idempotent. `admin` logs in as the super user."""
    from confluent_kafka.admin import (
        AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType, ScramCredentialInfo,
        ScramMechanism, UserScramCredentialUpsertion,
    )

    client = admin_client(admin)
    credential = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    upserts = [UserScramCredentialUpsertion(p, credential, password.encode()) for p, password in passwords.items()]
    for future in client.alter_user_scram_credentials(upserts, request_timeout=timeout).values():
        future.result()
    _wait_until_known(client, list(passwords), timeout)
    bindings = [
        AclBinding(getattr(ResourceType, g.resource), g.name, ResourcePatternType.LITERAL, f"User:{g.principal}",
                   "*", getattr(AclOperation, g.operation), AclPermissionType.ALLOW)
        for p in PRINCIPALS for g in grants(p)
    ]
    for future in client.create_acls(bindings, request_timeout=timeout).values():
        future.result()
