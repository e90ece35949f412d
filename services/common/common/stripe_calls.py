"""The HTTP client every Stripe client of ours uses: the SDK's own, timing each
call (its network retries included) into common.metrics by operation and outcome.

The operation is the method and the API path with object ids made `{id}`
(`POST /v1/transfers/{id}/reversals`): a bounded label whatever the ids.
"""

import re
import time
from typing import Any

import stripe

from common.metrics import STRIPE_REQUEST_SECONDS

# Stripe's ids: a short lowercase prefix, "_", then random letters and digits
# (pi_3Mtw..., acct_1Nv...); a path's resource names have no digit or capital.
_STRIPE_ID = re.compile(r"^[a-z]+_(?=[A-Za-z0-9]*[A-Z0-9])[A-Za-z0-9]+$")


def operation(method: str, url: str) -> str:
    path = re.sub(r"^[a-z]+://[^/]+", "", url).split("?", 1)[0]
    return f"{method.upper()} " + "/".join("{id}" if _STRIPE_ID.match(part) else part for part in path.split("/"))


def outcome(status: int) -> str:
    return "ok" if status < 400 else "client_error" if status < 500 else "server_error"


class MeteredHTTPClient(stripe.HTTPXClient):
    async def request_with_retries_async(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        result = "network_error"
        try:
            content, status, headers = await super().request_with_retries_async(method, url, *args, **kwargs)
            result = outcome(status)
            return content, status, headers
        finally:
            STRIPE_REQUEST_SECONDS.labels(operation(method, url), result).observe(time.perf_counter() - started)
