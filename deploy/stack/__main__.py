"""The local stack runner's command line.

    python -m stack up [--infra-only] [--profile dev|test] [--stripe-fixtures PATH]
    python -m stack down | status | env [--profile dev|test]
    python -m stack topics [--bootstrap HOST:PORT]
    python -m stack databases [--admin-dsn DSN]   (passwords from CALLASTAR_<SVC>_DB_[OWNER_]PASSWORD)
    python -m stack secrets                       (a .env for docker-compose.yml)
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from stack.config import PROFILES, StackConfig
from stack.procs import StackError
from stack.runner import LocalStack


class Stop(Exception):
    """SIGTERM/SIGHUP received: leave the wait loop and stop the stack."""


def _raise_stop(signum, frame):  # noqa: ARG001
    raise Stop(signal.Signals(signum).name)


def print_env(cfg: StackConfig) -> None:
    for key, value in sorted(cfg.env().items()):
        print(f"export {key}={shlex.quote(value)}")


def cmd_up(cfg: StackConfig, args: argparse.Namespace) -> int:
    stack = LocalStack(cfg, fixtures=args.stripe_fixtures)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (`cmd &`)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGHUP, _raise_stop)
    t0 = time.monotonic()
    code = 0
    try:
        stack.preflight(reset=False, services=not args.infra_only)
        stack.start_infra()
        if not args.infra_only:
            stack.start_services()
        print(f"\nStack ({cfg.profile}) up in {time.monotonic() - t0:.1f}s. State: {cfg.state_dir}, logs: {cfg.logs_dir}")
        print("Environment (run a service by hand with these):")
        print_env(cfg)
        if args.infra_only:
            print("\nInfrastructure only (no services). Ctrl-C to stop.", flush=True)
        else:
            print(f"\nGateway listening on {cfg.gateway_url}\nCtrl-C to stop.", flush=True)
        while True:
            time.sleep(1)
            dead = stack.first_dead()
            if dead is not None:
                print(f"\n{dead.name} (pid {dead.pid}) exited unexpectedly; log {dead.log}. Stopping the stack.",
                      file=sys.stderr)
                code = 1
                break
    except (KeyboardInterrupt, Stop):
        print("\nStopping ...", flush=True)
    except StackError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        code = 1
    finally:
        # a second Ctrl-C while stopping must not leave processes behind
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            stack.stop()
            print("Stopped.")
        except StackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            code = 1
    return code


def cmd_down(cfg: StackConfig, args: argparse.Namespace) -> int:
    stack = LocalStack(cfg)
    stack.stop()
    print(f"{cfg.profile} stack stopped.")
    return 0


def cmd_status(cfg: StackConfig, args: argparse.Namespace) -> int:
    stack = LocalStack(cfg)
    for name, state, pid in stack.status():
        port = {"postgres": "pg", "stripe-mock": "stripe_mock", "smtp-sink": "smtp"}.get(name, name)
        print(f"{name:<14} {state:<8} pid={pid or '-':<8} 127.0.0.1:{cfg.ports[port]}")
    print(f"state: {cfg.state_dir}")
    return 0


def cmd_env(cfg: StackConfig, args: argparse.Namespace) -> int:
    print_env(cfg)
    return 0


def cmd_topics(cfg: StackConfig, args: argparse.Namespace) -> int:
    """Create the contracts topics (and DLQs), the services' principals and their ACLs
    on any broker, as its super user; used by docker-compose."""
    from dataclasses import replace

    from stack import kafka_access
    from stack.kafka import create_topics, kafka_ready
    from stack.procs import run_async, wait_until

    admin = replace(cfg.kafka_admin, bootstrap_servers=args.bootstrap or cfg.kafka_bootstrap)
    wait_until(lambda: run_async(lambda: kafka_ready(admin)), timeout=args.timeout,
               what=f"Kafka on {admin.bootstrap_servers}", interval=1)
    created = run_async(lambda: create_topics(admin, cfg.partitions))
    kafka_access.provision(admin, cfg.kafka_passwords())
    print(f"{len(created)} topic(s) created on {admin.bootstrap_servers}: {', '.join(created) or '-'}; "
          f"principals and ACLs of {', '.join(kafka_access.PRINCIPALS)} provisioned")
    return 0


def cmd_databases(cfg: StackConfig, args: argparse.Namespace) -> int:
    """Each service's database, owner role and runtime role on any PostgreSQL; used by docker-compose."""
    from stack.databases import from_environment, provision_at
    from stack.procs import run_async

    if not args.admin_dsn:
        raise StackError("set CALLASTAR_POSTGRES_ADMIN_DSN (a superuser's postgresql:// DSN) or pass --admin-dsn")
    databases = from_environment(dict(os.environ))
    run_async(lambda: provision_at(args.admin_dsn, databases))
    print(f"{len(databases)} database(s) provisioned: {', '.join(db.name for db in databases)}")
    return 0


def cmd_secrets(cfg: StackConfig, args: argparse.Namespace) -> int:
    from stack.secrets import env_file

    print(env_file(cfg.root / "docker-compose.yml"), end="")
    return 0


def cmd_strimzi(cfg: StackConfig, args: argparse.Namespace) -> int:
    from stack.strimzi import render

    print(render(args.partitions), end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description="Callastar local stack runner")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", choices=PROFILES, default="dev", help="dev (default ports) or test (+1000)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", parents=[common], help="start the stack and wait for Ctrl-C")
    up.add_argument("--infra-only", action="store_true", help="PostgreSQL, Kafka, stripe-mock, SMTP sink only")
    up.add_argument("--stripe-fixtures", type=Path, default=None, help="JSON fixtures for stripe-mock")
    sub.add_parser("down", parents=[common], help="stop a stack left running")
    sub.add_parser("status", parents=[common], help="what runs")
    sub.add_parser("env", parents=[common], help="export lines for running a service by hand")
    topics = sub.add_parser("topics", parents=[common], help="create the contracts topics on a broker")
    topics.add_argument("--bootstrap", default=None, help="host:port (default: this profile's broker)")
    topics.add_argument("--timeout", type=float, default=120)
    databases = sub.add_parser("databases", parents=[common], help="provision the services' databases and roles")
    databases.add_argument("--admin-dsn", default=os.environ.get("CALLASTAR_POSTGRES_ADMIN_DSN"),
                           help="a superuser's postgresql:// DSN (default: CALLASTAR_POSTGRES_ADMIN_DSN)")
    sub.add_parser("secrets", parents=[common], help="random values for every secret docker-compose.yml needs")
    strimzi = sub.add_parser("strimzi", parents=[common],
                             help="the topics, principals and ACLs as Strimzi resources (deploy/k8s/strimzi)")
    strimzi.add_argument("--partitions", type=int, default=6, help="partitions per topic (6)")
    args = parser.parse_args(argv)
    cfg = StackConfig.for_profile(args.profile)
    handler = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env, "topics": cmd_topics,
               "databases": cmd_databases, "secrets": cmd_secrets, "strimzi": cmd_strimzi}[args.command]
    try:
        return handler(cfg, args)
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
