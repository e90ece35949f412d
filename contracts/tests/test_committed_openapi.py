"""The published API files match the gateway: contracts/openapi.json is what the
gateway serves at /schema, and the TypeScript types are what openapi-typescript
makes of it (and the client compiles against them)."""

import json
import subprocess
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from gateway import openapi

TYPESCRIPT = Path(__file__).resolve().parents[1] / "typescript"


def test_committed_openapi_is_the_gateways() -> None:
    committed = openapi.OPENAPI_FILE.read_text()
    assert committed == openapi.render(openapi.document()), f"contracts/openapi.json is stale: {openapi.REGENERATE}"


def test_every_operation_names_its_schemas() -> None:
    """A route without a typed body or answer would publish `{}`: nothing to generate a client from."""
    document = json.loads(openapi.OPENAPI_FILE.read_text())
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                for media_type, content in (answer.get("content") or {}).items():
                    schema = content["schema"]
                    if "json" in media_type:
                        named = "$ref" in schema or "$ref" in schema.get("items", {})
                        assert named, f"{method.upper()} {path} {status} {media_type}: not a named schema"
                    if media_type == "application/problem+json":
                        assert schema == {"$ref": "#/components/schemas/Problem"}, f"{method.upper()} {path} {status}"
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is not None:  # Stripe's events are Stripe's: titled, inline (gateway.schemas.webhooks)
                named = "$ref" in body["schema"] or path.startswith("/webhooks/") and "title" in body["schema"]
                assert named, f"{method.upper()} {path}: the request body is not a named schema"


def test_committed_typescript_is_generated_from_it() -> None:
    done = subprocess.run([str(TYPESCRIPT / "generate"), "--check"], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _with_nulls(value: Any, error: ValidationError) -> Any:
    """The example with the null `error` says is missing put back: Litestar drops
    every null from the examples it publishes (litestar.openapi.spec.base)."""
    holder = value
    for key in error.absolute_path:
        holder = holder[key]
    missing = error.message.split("'")[1]
    holder[missing] = None
    return value


def test_every_schema_has_an_example_that_fits_it() -> None:
    document = json.loads(openapi.OPENAPI_FILE.read_text())
    for name, schema in document["components"]["schemas"].items():
        assert schema.get("examples"), f"{name} has no example"
        validator = Draft202012Validator({**schema, "components": document["components"]})
        for example in schema["examples"]:
            while missing := [error for error in validator.iter_errors(example) if error.validator == "required"]:
                example = _with_nulls(example, missing[0])
            errors = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(example)]
            assert not errors, f"{name}'s example does not fit it: {errors}"
