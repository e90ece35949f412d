"""`python -m gateway.devtoken <subject> <role> [--ttl 3600]`: a JWT signed with the
configured CALLASTAR_JWT_SECRET, for curl against a local gateway."""

import argparse

from common.http import ROLES
from gateway.auth import issue_token
from gateway.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.devtoken")
    parser.add_argument("subject", help="user id (the token's sub)")
    parser.add_argument("role", choices=ROLES)
    parser.add_argument("--ttl", type=int, default=3600, help="seconds until it expires")
    args = parser.parse_args(argv)
    print(issue_token(args.subject, args.role, Settings().jwt_secret, ttl_s=args.ttl))


if __name__ == "__main__":
    main()
