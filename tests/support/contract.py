"""The public API's answers checked against its published OpenAPI document.

`PublishedContract.check` is an httpx response hook (on every e2e test's
gateway client, tests/e2e/conftest.py): every answer of a published route must be a
status the operation documents, in a media type it documents for that status,
and a JSON body must validate against the documented schema (JSON Schema
2020-12, the dialect of OpenAPI 3.1). A difference fails the test that made the
call, naming the route, the status and the first mismatch."""

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from jsonschema import Draft202012Validator

_NO_BODY = {204, 304}


def _media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").partition(";")[0].strip().lower()


@dataclass
class PublishedContract:
    document: dict[str, Any]
    # (METHOD, path template, status) of every answer checked, for coverage.
    seen: set[tuple[str, str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._routes = [
            (re.compile("^" + re.sub(r"\{[^}/]+\}", "[^/]+", template) + "$"), template)
            for template in self.document["paths"]
        ]

    def operations(self) -> set[tuple[str, str]]:
        return {(method.upper(), template) for template, ops in self.document["paths"].items() for method in ops}

    def _template(self, path: str) -> str | None:
        # The most literal template wins: /api/offers/mine before /api/offers/{offer_id}.
        matches = [template for pattern, template in self._routes if pattern.match(path)]
        return min(matches, key=lambda template: template.count("{")) if matches else None

    async def check(self, response: httpx.Response) -> None:
        request = response.request
        method, template = request.method, self._template(request.url.path)
        if template is None:
            return  # not the public API's (/schema, /health, ...)
        operation = self.document["paths"][template].get(method.lower())
        where = f"{method} {template} answered {response.status_code}"
        assert operation is not None, f"{method} {template} is not published"
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, f"{where}, a status it does not document"
        self.seen.add((method, template, response.status_code))
        if response.status_code in _NO_BODY:
            return
        media_type = _media_type(response)
        content = documented.get("content") or {}
        assert media_type in content, f"{where} as {media_type!r}; documented: {sorted(content)}"
        if media_type == "text/event-stream":
            return  # endless: its events are the stream tests' business
        await response.aread()
        if "json" in media_type:
            self.validate(content[media_type]["schema"], response.json(), where)

    def validate(self, schema: dict[str, Any], value: Any, where: str) -> None:
        # The schema's $refs point into the document's components.
        validator = Draft202012Validator({**schema, "components": self.document["components"]})
        errors = sorted(validator.iter_errors(value), key=lambda error: list(error.absolute_path))
        assert not errors, f"{where}, not as published: " + "; ".join(
            f"{'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}" for error in errors[:5]
        )
