import argparse
import sys

import uvicorn

from gateway.app import create_app
from gateway.settings import Settings


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway")
    parser.add_argument("command", choices=["serve"])
    parser.parse_args()
    settings = Settings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None,
                access_log=False, lifespan="on")
    return 0


sys.exit(main())
