"""The public interface other teams subscribe by, generated from the models.

One JSON Schema per event (`<topic>.v<schema_version>.json`) and one AsyncAPI 3.0
document (`asyncapi.json`), rendered deterministically (sorted keys, two-space
indent, trailing newline) so the committed files diff cleanly and a test can
prove they match the models.
"""

import json
from fnmatch import fnmatchcase
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from contracts.envelope import Event
from contracts.events.stripe import StripeEventReceived
from contracts.topics import EVENTS, dlq

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
ASYNCAPI_FILE = "asyncapi.json"
REGENERATE = "run `./callastar contracts` or `uv run python -m contracts export`"

# Which service emits each topic. The most specific pattern wins, so an exception
# to a family (say ledger's `payout.funds_reserved` beside payouts' `payout.*`)
# is one more row. A topic no row matches makes the export fail.
PRODUCERS: dict[str, str] = {
    "stripe.event.received": "gateway",
    "payment.*": "payments",
    "refund.*": "payments",
    "dispute.*": "payments",
    "debt.*": "ledger",
    "payout.*": "payouts",
    "payout.funds_reserved": "ledger",
    "payout.funds_rejected": "ledger",
    "ledger.*": "ledger",
    "notification.created": "notifications",
}

# One line per topic for the AsyncAPI message; a topic without one fails the export.
DESCRIPTIONS: dict[str, str] = {
    "stripe.event.received": (
        "A Stripe webhook event whose signature the gateway verified (platform or "
        "Connect endpoint), passed on untouched. event_id is derived from Stripe's "
        "evt_ id, so Stripe's retries dedupe in every inbox."
    ),
    "payment.succeeded": (
        "A fan's payment succeeded: price, creator share (85 %, rounded up) and "
        "platform fee, in minor units."
    ),
    "payment.failed": "A fan's payment failed, with Stripe's failure code and message.",
    "payment.needs_review": (
        "Stripe reported a fan's payment succeeded for another amount or currency "
        "than the payment's (the offer's price when it was opened): nothing is "
        "credited; admins review it."
    ),
    "payment.fee_recorded": (
        "Stripe's processing fee for a payment, read from the charge's balance "
        "transaction; the platform absorbs it."
    ),
    "ledger.balance_changed": (
        "A creator's balances (available, disputed, reserved, debt) after a journal "
        "entry, in minor units."
    ),
    "refund.created": (
        "A refund succeeded at Stripe, with the creator's proportional clawback "
        "(cumulative over the payment's refunds, never a cent more than the share)."
    ),
    "refund.failed": (
        "A refund failed; if it had succeeded before, the ledger reverses its entry."
    ),
    "dispute.created": "A fan disputed a payment: the creator's share of it is frozen.",
    "dispute.updated": "A dispute's status or evidence due date changed.",
    "dispute.closed": "A dispute ended: won (share back to the creator) or lost (gone).",
    "dispute.funds_withdrawn": (
        "Stripe took the disputed amount and its dispute fee from the platform's balance."
    ),
    "dispute.funds_reinstated": (
        "Stripe gave the disputed amount (and any returned fee) back to the platform's balance."
    ),
    "debt.created": (
        "A refund or dispute took back more than the creator's available balance; "
        "the shortfall is owed and deducted from later payouts."
    ),
    "debt.deducted": "Part of a creator's debt was taken from a payout's gross amount.",
    "debt.settled": "A creator's debt is paid off.",
    "payout.requested": "A creator asked for a payout (an amount, or all that is available).",
    "payout.funds_reserved": (
        "The ledger set the gross aside (available to reserved), deducted open debt, "
        "and states the net to pay."
    ),
    "payout.funds_rejected": (
        "The ledger refused a payout request: insufficient available, debt above the "
        "threshold, currency mismatch or below the minimum."
    ),
    "payout.approved": "An admin approved a payout; the transfer and payout follow.",
    "payout.rejected": "An admin rejected a payout (reason given); the reservation is released.",
    "payout.canceled": "The creator canceled a requested payout; the reservation is released.",
    "payout.blocked": "A payout request was refused because the creator's debt is above the threshold.",
    "payout.processing": "The transfer to the connected account and the payout to the bank were created.",
    "payout.paid": "Stripe reports the payout paid (not final: a payout.failed may follow days later).",
    "payout.failed": "The payout failed (maybe after paid): the transfer is reversed, funds and debt restored.",
    "notification.created": (
        "An in-app notification for one user or for every admin; the gateway pushes "
        "it to browsers."
    ),
}

# Headers common.consumers puts on a dead-lettered message; keep the two in step.
DLQ_HEADERS: dict[str, str] = {
    "x-original-topic": "Topic the message was consumed from",
    "x-original-partition": "Its partition, decimal",
    "x-original-offset": "Its offset, decimal",
    "x-consumer-group": "The consumer group (service) that gave up on it",
    "x-error-type": "Exception class name",
    "x-error": "Error message, at most 4000 characters",
    "x-attempts": "How many times it was tried, decimal",
    "x-failed-at": "When it was parked, ISO 8601 UTC",
}

KEY_RULE = (
    "The envelope's creator_id (UTF-8), so every event about one creator lands on "
    "one partition, in order. An event with no creator_id has no key."
)
STRIPE_KEY_RULE = (
    "The creator is not known at the edge, so: the id of the Stripe object "
    "(data.object_id: pi_..., ch_..., re_..., dp_...), keeping one object's events "
    "in order; the evt_ id for an event without an object."
)
KAFKA_BINDING_VERSION = "0.5.0"
DEAD_LETTER = "DeadLetter"
DEAD_LETTER_HEADERS = "DeadLetterHeaders"


def producer_of(topic: str) -> str:
    matches = [pattern for pattern in PRODUCERS if fnmatchcase(topic, pattern)]
    if not matches:
        raise LookupError(f"no producer for {topic!r}: add a row to {__name__}.PRODUCERS")
    # An exact name beats a pattern; a longer pattern beats a shorter one.
    return PRODUCERS[max(matches, key=lambda p: ("*" not in p, len(p)))]


def description_of(topic: str) -> str:
    if topic not in DESCRIPTIONS:
        raise LookupError(f"no description for {topic!r}: add one to {__name__}.DESCRIPTIONS")
    return DESCRIPTIONS[topic]


def schema_file(model: type[Event]) -> str:
    return f"{model.TOPIC}.v{model.SCHEMA_VERSION}.json"


def _pin(schema: dict[str, Any], model: type[Event]) -> dict[str, Any]:
    """A model accepts one event_type and one schema_version; say so in the schema."""
    properties = schema["properties"]
    properties["event_type"]["const"] = model.TOPIC
    properties["schema_version"]["const"] = model.SCHEMA_VERSION
    return schema


def event_schema(model: type[Event]) -> dict[str, Any]:
    """The standalone JSON Schema (2020-12) of one event, with its `$defs` inside."""
    schema = _pin(model.model_json_schema(), model)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:callastar:event:{model.TOPIC}:v{model.SCHEMA_VERSION}"
    schema["title"] = model.__name__
    schema["description"] = description_of(model.TOPIC)
    return schema


def _channel_id(topic: str) -> str:
    # AsyncAPI channel ids allow only [A-Za-z0-9_-]; the topic is the address.
    return topic.replace(".", "_")


def asyncapi() -> dict[str, Any]:
    models = list(EVENTS.values())
    # Every model's schema and the schemas it uses, named once across all events
    # (pydantic qualifies a class name that two modules share).
    refs, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = defs["$defs"]
    names = {m: refs[(m, "validation")]["$ref"].rsplit("/", 1)[1] for m in models}
    for model in models:
        _pin(schemas[names[model]], model)

    schemas[DEAD_LETTER_HEADERS] = {
        "type": "object",
        "title": DEAD_LETTER_HEADERS,
        "properties": {
            header: {"type": "string", "description": text} for header, text in DLQ_HEADERS.items()
        },
        "required": list(DLQ_HEADERS),
    }
    messages: dict[str, Any] = {DEAD_LETTER: _dead_letter_message()}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for model in models:
        topic, name, producer = model.TOPIC, names[model], producer_of(model.TOPIC)
        key_rule = STRIPE_KEY_RULE if model is StripeEventReceived else KEY_RULE
        messages[name] = {
            "name": name,
            "title": f"{topic} v{model.SCHEMA_VERSION}",
            "summary": f"{name}, produced by {producer}",
            "description": description_of(topic),
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{name}"},
            "correlationId": {"location": "$message.payload#/correlation_id"},
            "bindings": {
                "kafka": {
                    "key": {"type": "string", "description": key_rule},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        for address, message, produced_by in (
            (topic, name, producer),
            (dlq(topic), DEAD_LETTER, f"every consumer of {topic}, after bounded retries"),
        ):
            channel = _channel_id(address)
            channels[channel] = {
                "address": address,
                "title": address,
                "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            }
            operations[f"receive_{channel}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
                "summary": f"Produced by {produced_by}",
                "x-producer": produced_by,
            }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Callastar events",
            "version": version("callastar-contracts"),
            "description": (
                "Kafka topics of the Callastar payments suite. The topic name is the "
                "event type; every message is a JSON envelope (event_id, event_type, "
                "schema_version, occurred_at, producer, correlation_id, causation_id, "
                "creator_id, data). Delivery is at least once: dedupe on event_id. "
                "A message a consumer cannot apply goes to `<topic>.dlq`."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": DEAD_LETTER,
        "title": "Dead letter",
        "summary": "A message a consumer gave up on",
        "description": (
            "The original message, value and key unchanged, parked on `<topic>.dlq` "
            "after bounded retries (at once for a permanent error) by the consumer's "
            "dead-letter policy. The value is usually the topic's envelope, but a "
            "message that failed validation lands here as it was, so the payload is "
            "not constrained; the headers say where it came from and why it failed."
        ),
        "headers": {"$ref": f"#/components/schemas/{DEAD_LETTER_HEADERS}"},
        "payload": {"description": "The original message value, byte for byte"},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": "The original message's key"},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """Every file export writes: name -> exact text."""
    files = {schema_file(m): dumps(event_schema(m)) for m in EVENTS.values()}
    files[ASYNCAPI_FILE] = dumps(asyncapi())
    return files


def read(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.json"))}


def differences(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """What stands between the files on disk (`actual`) and the models (`expected`)."""
    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        if name not in actual:
            problems.append(f"{name}: missing")
        elif name not in expected:
            problems.append(f"{name}: no model produces it (stale)")
        elif actual[name] != expected[name]:
            problems.append(f"{name}: differs from the models")
    return problems


def write(directory: Path, files: dict[str, str]) -> list[str]:
    """Make `directory` hold exactly `files`; returns what changed."""
    directory.mkdir(parents=True, exist_ok=True)
    before = read(directory)
    changes = []
    for name, text in files.items():
        if before.get(name) != text:
            (directory / name).write_text(text, encoding="utf-8", newline="\n")
            changes.append(f"{name}: {'updated' if name in before else 'created'}")
    for name in sorted(before.keys() - files.keys()):
        (directory / name).unlink()
        changes.append(f"{name}: removed, no model produces it")
    return changes
