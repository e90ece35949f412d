"""The public API's named schemas: what each route takes and answers, published
in the OpenAPI document (`/schema`, `contracts/openapi.json`). The gateway
validates request bodies and query parameters with them; the services' answers
are checked against them in tests (tests/e2e/test_public_contract.py)."""
