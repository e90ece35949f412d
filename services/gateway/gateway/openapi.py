"""`python -m gateway.openapi [--check]`: the public API's OpenAPI document, as
the gateway serves it at /schema, written to contracts/openapi.json for the
teams that build on it (sorted keys, two-space indent, trailing newline, so a
change to the API is a plain diff in review)."""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

OPENAPI_FILE = Path(__file__).resolve().parents[3] / "contracts" / "openapi.json"
REGENERATE = "run `./callastar contracts`"


def document() -> dict[str, Any]:
    # The document does not depend on any secret: the development values will do.
    os.environ.setdefault("CALLASTAR_ENV", "dev")
    from gateway.app import create_app

    return create_app().openapi_schema.to_schema()


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m gateway.openapi")
    parser.add_argument("--out", type=Path, default=OPENAPI_FILE, help="default: %(default)s")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = render(document())
    current = args.out.read_text() if args.out.exists() else None
    if args.check:
        if current != text:
            print(f"{args.out}: out of date with the gateway's routes: {REGENERATE}", file=sys.stderr)
            return 1
        print(f"{args.out}: up to date")
        return 0
    if current != text:
        args.out.write_text(text)
    print(f"{args.out}: {'written' if current != text else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
