"""The published API files match the gateway: contracts/openapi.json is what the
gateway serves at /schema, and the TypeScript types are what openapi-typescript
makes of it (and the client compiles against them)."""

import json
import subprocess
from pathlib import Path

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
            if body is not None:
                assert "$ref" in body["schema"], f"{method.upper()} {path}: the request body is not a named schema"


def test_committed_typescript_is_generated_from_it() -> None:
    done = subprocess.run([str(TYPESCRIPT / "generate"), "--check"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
