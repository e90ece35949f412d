import importlib
import pkgutil

import contracts.events
from contracts import topics
from contracts.envelope import Event


def _event_models() -> list[type[Event]]:
    """Every concrete event model defined under contracts.events, registered or not."""
    for module in pkgutil.iter_modules(contracts.events.__path__):
        importlib.import_module(f"contracts.events.{module.name}")
    found, todo = [], list(Event.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        # Event[X] parametrisations fix no topic; other tests may define their own models.
        if "TOPIC" in cls.__dict__ and cls.__module__.startswith("contracts.events."):
            found.append(cls)
    return found


def test_every_event_model_is_registered_under_its_topic():
    models = _event_models()

    assert models
    assert {m.__name__ for m in models} == {m.__name__ for m in topics.EVENTS.values()}
    for topic, model in topics.EVENTS.items():
        assert model.TOPIC == topic


def test_no_two_event_models_share_a_topic():
    seen = [m.TOPIC for m in _event_models()]

    assert len(seen) == len(set(seen))


def test_all_lists_every_registered_topic():
    assert topics.ALL == tuple(topics.EVENTS)


def test_topic_constants_name_their_models():
    assert topics.STRIPE_EVENT_RECEIVED == "stripe.event.received"
    assert topics.PAYMENT_SUCCEEDED == "payment.succeeded"
    assert topics.PAYMENT_FAILED == "payment.failed"
    assert topics.PAYMENT_FEE_RECORDED == "payment.fee_recorded"
    assert topics.LEDGER_BALANCE_CHANGED == "ledger.balance_changed"
    assert topics.NOTIFICATION_CREATED == "notification.created"


def test_dead_letter_topic_is_the_topic_with_a_dlq_suffix():
    for topic in topics.ALL:
        assert topics.dlq(topic) == topic + ".dlq"
