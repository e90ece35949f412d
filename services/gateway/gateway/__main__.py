import argparse
import sys

import uvicorn

from common.service import load_settings
from gateway.app import create_app
from gateway.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    parser.add_argument("command", choices=["serve"])
    parser.parse_args()
    settings = load_settings("gateway", Settings)
    if settings is None:
        return 2
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, lifespan="on",
                # The gateway resolves forwarded headers itself, from its trusted proxies only.
                proxy_headers=False)
    return 0


sys.exit(main())
