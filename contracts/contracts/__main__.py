"""`python -m contracts export [--out DIR] [--check]`."""

import argparse
import sys
from pathlib import Path

from contracts import export


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m contracts")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("export", help="write the JSON Schemas and the AsyncAPI document")
    cmd.add_argument("--out", type=Path, default=export.SCHEMA_DIR, help="default: %(default)s")
    cmd.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the files are out of date"
    )
    args = parser.parse_args(argv)

    files = export.render()
    if args.check:
        problems = export.differences(files, export.read(args.out))
        for problem in problems:
            print(f"{args.out / problem}", file=sys.stderr)
        if problems:
            print(f"schemas are out of date with the models: {export.REGENERATE}", file=sys.stderr)
            return 1
        print(f"{args.out}: {len(files)} files up to date")
        return 0

    changes = export.write(args.out, files)
    for change in changes:
        print(f"{args.out / change}")
    print(f"{args.out}: {len(files)} files, {len(changes)} changed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
