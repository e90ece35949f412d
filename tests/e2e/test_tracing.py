"""One payment is one trace: the webhook's span at the gateway, the records'
spans in payments, the ledger and notifications share its trace id (the stack's
services export to the session's OTLP receiver, see conftest.py)."""

import json
import secrets

from tests.support.polling import eventually
from tests.support.stripe_events import sign_stripe_payload

from .conftest import Gateway, new_id, payment_intent_succeeded


async def test_spans_of_one_payment_share_one_trace_id(gateway: Gateway, traces) -> None:
    fan, creator = new_id("fan"), new_id("creator")
    intent = await gateway.create_intent(fan, creator, 4200, "EUR")
    # Stripe sends no traceparent; this one names the trace to look for. The
    # gateway continues it, then every hop carries it in the records' headers.
    trace_id = secrets.token_hex(16)
    body = json.dumps(payment_intent_succeeded(intent)).encode()
    response = await gateway.http.post("/webhooks/stripe", content=body, headers={
        "Stripe-Signature": sign_stripe_payload(body, gateway.env["CALLASTAR_STRIPE_WEBHOOK_SECRET"]),
        "Content-Type": "application/json",
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
    })
    assert response.status_code == 200, response.text

    async def every_hop_reported():
        spans = [span for span in traces.spans() if span.trace_id == trace_id]
        services = {span.service for span in spans}
        return {"gateway", "payments", "ledger", "notifications"} <= services and spans

    spans = await eventually(every_hop_reported, timeout=60)
    names = {(span.service, span.name) for span in spans}
    assert ("gateway", "POST /webhooks/stripe") in names
    assert ("payments", "apply stripe.event.received") in names
    assert any(service == "ledger" and name.startswith("apply payment.") for service, name in names), names
    assert any(service == "notifications" and name.startswith("apply ") for service, name in names), names
    # A chain, not a set of strangers: every span but the first has its parent in the trace.
    ids = {span.span_id for span in spans}
    orphans = [span for span in spans if span.parent_span_id not in ids]
    assert [(span.service, span.name) for span in orphans] == [("gateway", "POST /webhooks/stripe")]
