"""What Prometheus and Grafana read: each process's /metrics as scraped from the
test stack, and deploy/observability's alert rules and dashboard checked against
it. Every expression must parse as PromQL (Prometheus's own parser, built from
deploy/observability/promqlcheck: promtool is too big to build here) and read
only metrics the code exports."""

import json
import os
import re
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.auth import issue_token
from tests.support.offers import create_offer, open_intent

ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = ROOT / "deploy" / "observability"
SERVICES = ("payments", "ledger", "payouts", "notifications")
SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")


def scrape(url: str) -> dict[str, str]:
    """Metric family name -> type, from one /metrics."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {family.name: family.type for family in text_string_to_metric_families(response.text)}


@pytest.fixture(scope="module")
def scraped(stack) -> dict[str, dict[str, str]]:
    # A request with an id in its path first: its route must be counted by template.
    token = issue_token(f"fan-{uuid.uuid4().hex[:8]}", "fan", stack.env["CALLASTAR_JWT_SECRET"])
    httpx.get(f"{stack.gateway_url}/api/payments/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"})
    urls = {"gateway": f"http://127.0.0.1:{stack.env['CALLASTAR_GATEWAY_METRICS_PORT']}/metrics"}
    urls |= {service: f"http://127.0.0.1:{stack.env[f'CALLASTAR_{service.upper()}_PORT']}/metrics"
             for service in SERVICES}
    return {process: scrape(url) for process, url in urls.items()}


@pytest.fixture(scope="module")
def exported(scraped) -> set[str]:
    """Every sample name any process exposes (a histogram's _bucket, _sum, _count)."""
    return {name + suffix for families in scraped.values() for name, kind in families.items()
            for suffix in SAMPLE_SUFFIXES.get(kind, ("",))}


@pytest.fixture(scope="session")
def promqlcheck() -> Path:
    binary = ROOT / ".state" / "tools" / "promqlcheck"
    source = OBSERVABILITY / "promqlcheck"
    newest_source = max(path.stat().st_mtime for path in source.iterdir())
    if not binary.exists() or binary.stat().st_mtime < newest_source:
        binary.parent.mkdir(parents=True, exist_ok=True)
        built = subprocess.run(["go", "build", "-o", str(binary), "."], cwd=source, capture_output=True,
                               text=True, check=False, env={**os.environ, "GOFLAGS": "-mod=mod"}, timeout=600)
        assert built.returncode == 0, built.stderr
    return binary


def parse(promqlcheck: Path, expressions: list[str]) -> list[dict]:
    done = subprocess.run([str(promqlcheck)], input="\n".join(e.replace("\n", " ") for e in expressions) + "\n",
                          capture_output=True, text=True, timeout=60, check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


def alert_rules() -> list[dict]:
    document = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    assert set(document) == {"groups"} and document["groups"]
    rules = []
    for group in document["groups"]:
        assert isinstance(group["name"], str) and group["rules"], group
        assert set(group) <= {"name", "interval", "rules", "limit", "labels"}
        for rule in group["rules"]:
            assert ("alert" in rule) != ("record" in rule), rule
            assert set(rule) <= {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert "for" not in rule or DURATION.match(rule["for"]), rule
            for key in ("labels", "annotations"):
                assert all(isinstance(v, str) for v in rule.get(key, {}).values()), rule
            rules.append(rule)
    return rules


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    assert expressions
    # Grafana's interval variables become a duration before Prometheus sees them.
    return [expr.replace("$__rate_interval", "5m").replace("$__interval", "1m") for expr in expressions]


def test_every_process_serves_its_metrics(scraped) -> None:
    for process, families in scraped.items():
        assert families.get("callastar_http_request_duration_seconds") == "histogram", process
    for service in SERVICES:
        for family in ("callastar_consumer_lag", "callastar_outbox_backlog", "callastar_outbox_oldest_unsent_age_seconds",
                       "callastar_parked_events", "callastar_consumer_dead_letters"):
            assert family in scraped[service], (service, family)
    assert "callastar_email_queue_depth" in scraped["notifications"]
    assert "callastar_ledger_invariant_check_ok" in scraped["ledger"]
    assert "callastar_stripe_request_duration_seconds" in scraped["payments"]


def samples(url: str, name: str) -> list[dict[str, str]]:
    """The labels of every sample called `name` in one scrape."""
    text = httpx.get(url, timeout=10).text
    return [dict(sample.labels) for family in text_string_to_metric_families(text)
            for sample in family.samples if sample.name == name]


def service_metrics(stack, service: str) -> str:
    return f"http://127.0.0.1:{stack.env[f'CALLASTAR_{service.upper()}_PORT']}/metrics"


async def test_consumers_report_lag_per_partition_and_stripe_calls_are_counted(stack) -> None:
    for service in ("payments", "ledger", "notifications", "payouts"):
        lag = samples(service_metrics(stack, service), "callastar_consumer_lag")
        assert lag and {labels["group"] for labels in lag} == {service}, (service, lag)
        assert all(labels["partition"].isdigit() for labels in lag)
    # A fan opens a payment: payments asks Stripe (stripe-mock) for a PaymentIntent.
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=30) as client:
        creator, fan = (f"{role}-{uuid.uuid4().hex[:8]}" for role in ("creator", "fan"))
        secret = stack.env["CALLASTAR_JWT_SECRET"]
        offer = await create_offer(client, {"Authorization": f"Bearer {issue_token(creator, 'creator', secret)}"}, 1500)
        opened = await open_intent(client, {"Authorization": f"Bearer {issue_token(fan, 'fan', secret)}"},
                                   offer["offer_id"])
        assert opened.status_code == 201, opened.text
    stripe_calls = samples(service_metrics(stack, "payments"), "callastar_stripe_request_duration_seconds_count")
    assert {"operation": "POST /v1/payment_intents", "outcome": "ok"} in stripe_calls, stripe_calls


def test_routes_are_counted_by_template_and_metrics_stay_off_the_public_port(stack, scraped) -> None:
    text = httpx.get(f"http://127.0.0.1:{stack.env['CALLASTAR_GATEWAY_METRICS_PORT']}/metrics").text
    routes = set(re.findall(r'callastar_http_request_duration_seconds_count\{[^}]*route="([^"]*)"', text))
    assert "/api/payments/{payment_id}" in routes, routes
    assert not any(re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", route) for route in routes), routes
    assert httpx.get(f"{stack.gateway_url}/metrics").status_code == 404


def test_alert_rules_parse_and_read_only_exported_metrics(promqlcheck, exported) -> None:
    rules = alert_rules()
    names = {rule["alert"] for rule in rules}
    assert {"ConsumerLagGrowing", "DeadLettersWritten", "OutboxNotPublishing", "HighServerErrorRate",
            "LedgerInvariantCheckFailed"} <= names
    for rule, parsed in zip(rules, parse(promqlcheck, [rule["expr"] for rule in rules]), strict=True):
        assert "error" not in parsed, (rule["alert"], parsed)
        assert set(parsed["metrics"]) <= exported, (rule["alert"], set(parsed["metrics"]) - exported)


def test_dashboard_panels_parse_and_read_only_exported_metrics(promqlcheck, exported) -> None:
    expressions = dashboard_expressions()
    for expr, parsed in zip(expressions, parse(promqlcheck, expressions), strict=True):
        assert "error" not in parsed, (expr, parsed)
        assert parsed["metrics"] and set(parsed["metrics"]) <= exported, (expr, set(parsed["metrics"]) - exported)


def test_the_checker_refuses_broken_promql_and_names_what_it_reads(promqlcheck) -> None:
    broken, good = parse(promqlcheck, ['rate(callastar_outbox_backlog[5m', 'sum(rate(x_total{a="b"}[5m])) / y'])
    assert "error" in broken
    assert good == {"metrics": ["x_total", "y"]}
