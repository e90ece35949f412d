from typing import Any

import pytest

from contracts import export, topics

DOC = export.asyncapi()


def _resolve(ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = DOC
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _channels_by_address() -> dict[str, dict[str, Any]]:
    return {channel["address"]: channel for channel in DOC["channels"].values()}


def test_document_is_asyncapi_3_titled_callastar_events():
    assert DOC["asyncapi"] == "3.0.0"
    assert DOC["info"]["title"] == "Callastar events"
    assert DOC["info"]["version"]


def test_every_topic_has_a_channel_and_a_dead_letter_channel():
    addresses = set(_channels_by_address())

    assert addresses == set(topics.ALL) | {topics.dlq(t) for t in topics.ALL}


def test_channel_ids_are_valid_asyncapi_ids():
    assert all(cid.replace("_", "").replace("-", "").isalnum() for cid in DOC["channels"])


def test_every_reference_resolves():
    refs = _refs(DOC)

    assert refs
    for ref in refs:
        assert isinstance(_resolve(ref), dict), ref


@pytest.mark.parametrize("topic", topics.ALL)
def test_topic_message_carries_the_model_schema_and_a_string_key(topic):
    model = topics.EVENTS[topic]
    (ref,) = [m["$ref"] for m in _channels_by_address()[topic]["messages"].values()]
    message = _resolve(ref)
    payload = _resolve(message["payload"]["$ref"])

    assert payload["title"] == model.__name__
    assert payload["properties"]["event_type"]["const"] == topic
    assert payload["properties"]["schema_version"]["const"] == model.SCHEMA_VERSION
    assert message["bindings"]["kafka"]["key"]["type"] == "string"
    assert message["description"]


def test_stripe_events_are_keyed_by_object_id_and_others_by_creator():
    messages = DOC["components"]["messages"]

    assert "object" in messages["StripeEventReceived"]["bindings"]["kafka"]["key"]["description"]
    assert "creator_id" in messages["PaymentSucceeded"]["bindings"]["kafka"]["key"]["description"]


def test_dead_letter_message_describes_the_error_headers():
    (ref,) = [
        m["$ref"]
        for m in _channels_by_address()["payment.succeeded.dlq"]["messages"].values()
    ]
    headers = _resolve(_resolve(ref)["headers"]["$ref"])

    assert {"x-original-topic", "x-error", "x-attempts"} <= set(headers["required"])


def test_every_channel_has_one_receive_operation_naming_its_producer():
    by_channel = {op["channel"]["$ref"]: op for op in DOC["operations"].values()}

    assert len(by_channel) == len(DOC["operations"]) == len(DOC["channels"])
    for cid, channel in DOC["channels"].items():
        operation = by_channel[f"#/channels/{cid}"]
        assert operation["action"] == "receive"
        assert [m["$ref"].rsplit("/", 3)[1] for m in operation["messages"]] == [cid]
        if channel["address"] in topics.EVENTS:
            assert operation["x-producer"] == export.producer_of(channel["address"])


@pytest.mark.parametrize(
    "topic, producer",
    [
        ("stripe.event.received", "gateway"),
        ("payment.succeeded", "payments"),
        ("payment.fee_recorded", "payments"),
        ("ledger.balance_changed", "ledger"),
        ("notification.created", "notifications"),
    ],
)
def test_producer_table_names_the_emitting_service(topic, producer):
    assert export.producer_of(topic) == producer


def test_exact_producer_row_beats_a_pattern(monkeypatch):
    monkeypatch.setitem(export.PRODUCERS, "payment.reconciled", "ledger")

    assert export.producer_of("payment.reconciled") == "ledger"
    assert export.producer_of("payment.failed") == "payments"


def test_topic_without_a_producer_row_fails_the_export():
    with pytest.raises(LookupError, match="PRODUCERS"):
        export.producer_of("invoice.issued")


@pytest.mark.parametrize("model", topics.EVENTS.values(), ids=lambda m: m.TOPIC)
def test_event_schema_pins_type_and_version_and_has_an_id(model):
    schema = export.event_schema(model)

    assert schema["$id"] == f"urn:callastar:event:{model.TOPIC}:v{model.SCHEMA_VERSION}"
    assert schema["title"] == model.__name__
    assert schema["properties"]["event_type"]["const"] == model.TOPIC
    assert schema["properties"]["schema_version"]["const"] == model.SCHEMA_VERSION
    assert schema["additionalProperties"] is False
    assert export.schema_file(model) == f"{model.TOPIC}.v{model.SCHEMA_VERSION}.json"


def test_topic_without_a_description_fails_the_export():
    with pytest.raises(LookupError, match="DESCRIPTIONS"):
        export.description_of("invoice.issued")
