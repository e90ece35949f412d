"""Schema fuzzing of the whole public API against the real test stack.

schemathesis generates requests from the OpenAPI document the running gateway
serves (so every schema the routes declare is fuzzed as soon as it is served)
and sends them as each caller: no token, a fan, a creator, an admin; a route
taking an offer or payment id is fuzzed with generated ids and with real ones
(the fuzzing creator's offer, the fuzzing fan's payment for it). No answer may
be a 5xx, and every error answer must be an RFC 9457 problem detail.

Bounded and repeatable: at most EXAMPLES requests per operation, generation
mode (positive: what the schema allows; negative: what it refuses) and caller,
derandomized, so the same document gives the same requests on every run (two
runs, the same statuses to the request). About 1,000 requests per caller: 34 s
for all four on the 2-core machine, 3 min under a load average of 15. Findings are collected, not raised, so one
run reports every failing request with a curl line to reproduce it."""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.schemas import APIOperation

from gateway.auth import issue_token

from .conftest import FUZZING_SUMMARY

# CALLASTAR_FUZZ_EXAMPLES=200 for a deeper local run; CI keeps the default.
EXAMPLES = int(os.environ.get("CALLASTAR_FUZZ_EXAMPLES", "25"))
CALLERS = ("no token", "fan", "creator", "admin")
PROBLEM_JSON = "application/problem+json"
TIMEOUT_S = 10
# The notification stream stays open: one event is enough to see how it answered.
CONFIG = schemathesis.Config.from_dict({"max-stream-events": 1})


@dataclass
class Run:
    statuses: Counter = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return sum(self.statuses.values())


def public_schema(gateway_url: str) -> schemathesis.BaseSchema:
    """The served document with its security requirements removed: the token is
    the caller's, so the generator neither invents nor drops the Authorization header."""
    document = requests.get(f"{gateway_url}/schema/openapi.json", timeout=TIMEOUT_S).json()
    document.pop("security", None)
    document.get("components", {}).pop("securitySchemes", None)
    for operations in document["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict):
                operation.pop("security", None)
    return schemathesis.openapi.from_dict(document, config=CONFIG)


def can_be_negated(operation: APIOperation, *, path_fixed: bool) -> bool:
    """Whether a request the schema refuses exists: not for an operation whose only
    input is a fixed path or a path segment of any text (every segment is text),
    nor for a body of any JSON. Hypothesis would search a long time before saying so."""
    bodies = [body.definition.get("schema", {}) for body in operation.body]
    constrained_path = not path_fixed and any(set(param.definition.get("schema", {})) - {"type"}
                                              for param in operation.path_parameters)
    return bool(operation.query or operation.headers or operation.cookies or constrained_path
                or any(schema not in ({}, {"type": "string"}) for schema in bodies))


def why_wrong(response: schemathesis.Response) -> str | None:
    if response.status_code >= 500:
        return f"answered {response.status_code}"
    content_type = response.headers.get("content-type", [""])[0]
    if response.status_code >= 400 and not content_type.startswith(PROBLEM_JSON):
        return f"answered {response.status_code} as {content_type or 'no content type'}, not {PROBLEM_JSON}"
    return None


def fuzz(operation: APIOperation, mode: GenerationMode, base_url: str, headers: dict[str, str],
         session: requests.Session, run: Run, path_parameters: dict[str, str] | None = None) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def send(case: schemathesis.Case) -> None:
        where = f"{operation.method.upper()} {operation.path} ({mode.value}{', real ids' if path_parameters else ''})"
        try:
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=TIMEOUT_S)
        except requests.RequestException as exc:
            run.statuses["no answer"] += 1
            run.findings.append(f"{where}: no answer ({exc!r})\n    {case.as_curl_command(headers=headers)}")
            return
        run.statuses[response.status_code] += 1
        if why := why_wrong(response):
            run.findings.append(f"{where}: {why}: {response.content[:300]!r}\n"
                                f"    {case.as_curl_command(headers=headers)}")

    send()


def bearer(user_id: str, role: str, jwt_secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user_id, role, jwt_secret)}"}


@pytest.fixture(scope="module")
def callers(stack) -> dict[str, dict[str, str]]:
    """Each caller's headers, one user per role for the whole module."""
    secret, run = stack.env["CALLASTAR_JWT_SECRET"], secrets.token_hex(4)
    return {"no token": {}} | {role: bearer(f"fuzz-{role}-{run}", role, secret) for role in CALLERS[1:]}


@pytest.fixture(scope="module")
def real_ids(stack, callers) -> dict[str, str]:
    """The fuzzing creator's offer and the fuzzing fan's payment for it: requests
    naming these reach the services' own checks, past "no such object"."""
    with requests.Session() as http:
        offer = http.post(f"{stack.gateway_url}/api/offers", headers=callers["creator"], timeout=TIMEOUT_S,
                          json={"title": "Fuzzed call", "price_minor": 5000, "currency": "EUR"})
        assert offer.status_code == 201, offer.text
        payment = http.post(f"{stack.gateway_url}/api/payments/intents", headers=callers["fan"], timeout=TIMEOUT_S,
                            json={"offer_id": offer.json()["offer_id"]})
        assert payment.status_code == 201, payment.text
    return {"offer_id": offer.json()["offer_id"], "payment_id": payment.json()["payment_id"]}


def id_choices(operation: APIOperation, real_ids: dict[str, str]) -> list[dict[str, str] | None]:
    """Generated ids (None), and, where every id the path takes is one we made, those."""
    names = {param.name for param in operation.path_parameters}
    return [None, {name: real_ids[name] for name in names}] if names and names <= set(real_ids) else [None]


@pytest.mark.parametrize("caller", CALLERS)
def test_no_request_the_schema_describes_gets_a_server_error(stack, callers, real_ids, caller, request):
    started = time.monotonic()
    schema = public_schema(stack.gateway_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "the served document lost its routes"
    headers = callers[caller]
    run = Run()
    with requests.Session() as session:
        for operation in operations:
            for ids in id_choices(operation, real_ids):
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    if mode is GenerationMode.NEGATIVE and not can_be_negated(operation, path_fixed=ids is not None):
                        continue
                    try:
                        fuzz(operation, mode, stack.gateway_url, headers, session, run, ids)
                    except Unsatisfiable:
                        pass  # nothing the schema refuses could be built: the positive cases stand
    request.config.stash.setdefault(FUZZING_SUMMARY, []).append(
        f"{caller:<9} {run.cases:5d} cases, {len(operations)} operations, {time.monotonic() - started:5.1f} s, "
        f"{len(run.findings)} wrong; statuses {dict(sorted(run.statuses.items(), key=str))}")
    assert run.cases >= len(operations) * 2, "too few cases were sent to mean anything"
    assert run.findings == [], f"{len(run.findings)} wrong answers:\n" + "\n".join(run.findings[:30])
