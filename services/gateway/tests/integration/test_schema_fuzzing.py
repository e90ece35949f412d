"""Schema fuzzing of the whole public API against the real test stack.

schemathesis generates requests from the OpenAPI document the running gateway
serves (so every schema the routes declare is fuzzed as soon as it is served)
and sends them as each caller: no token, a fan, a creator, an admin. No answer
may be a 5xx, and every error answer must be an RFC 9457 problem detail.

Bounded and repeatable: at most EXAMPLES requests per operation, generation
mode (positive: what the schema allows; negative: what it refuses) and caller,
derandomized, so the same document gives the same requests on every run (about
a minute for all four callers here). Findings are collected, not raised, so one
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


def can_be_negated(operation: APIOperation) -> bool:
    """Whether a request the schema refuses exists: not for an operation whose only
    input is a path segment of any text (every segment is text), nor for a body of
    any JSON. Hypothesis would search a long time before saying so."""
    bodies = [body.definition.get("schema", {}) for body in operation.body]
    return bool(operation.query or operation.headers or operation.cookies
                or any(schema not in ({}, {"type": "string"}) for schema in bodies)
                or any(set(param.definition.get("schema", {})) - {"type"} for param in operation.path_parameters))


def why_wrong(response: schemathesis.Response) -> str | None:
    if response.status_code >= 500:
        return f"answered {response.status_code}"
    content_type = response.headers.get("content-type", [""])[0]
    if response.status_code >= 400 and not content_type.startswith(PROBLEM_JSON):
        return f"answered {response.status_code} as {content_type or 'no content type'}, not {PROBLEM_JSON}"
    return None


def fuzz(operation: APIOperation, mode: GenerationMode, base_url: str, headers: dict[str, str],
         session: requests.Session, run: Run) -> None:
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def send(case: schemathesis.Case) -> None:
        where = f"{operation.method.upper()} {operation.path} ({mode.value})"
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


def caller_headers(caller: str, jwt_secret: str) -> dict[str, str]:
    if caller == "no token":
        return {}
    token = issue_token(f"fuzz-{caller}-{secrets.token_hex(4)}", caller, jwt_secret)
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("caller", CALLERS)
def test_no_request_the_schema_describes_gets_a_server_error(stack, caller, request):
    started = time.monotonic()
    schema = public_schema(stack.gateway_url)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30, "the served document lost its routes"
    headers = caller_headers(caller, stack.env["CALLASTAR_JWT_SECRET"])
    run = Run()
    with requests.Session() as session:
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if mode is GenerationMode.NEGATIVE and not can_be_negated(operation):
                    continue
                try:
                    fuzz(operation, mode, stack.gateway_url, headers, session, run)
                except Unsatisfiable:
                    pass  # nothing the schema refuses could be built: the positive cases stand
    request.config.stash.setdefault(FUZZING_SUMMARY, []).append(
        f"{caller:<9} {run.cases:5d} cases, {len(operations)} operations, {time.monotonic() - started:5.1f} s, "
        f"{len(run.findings)} wrong; statuses {dict(sorted(run.statuses.items(), key=str))}")
    assert run.cases >= len(operations) * 2, "too few cases were sent to mean anything"
    assert run.findings == [], f"{len(run.findings)} wrong answers:\n" + "\n".join(run.findings[:30])
