"""The composition every service shares: database, outbox relay, Kafka consumers
and the internal HTTP API in one process, plus its `migrate` / `serve` commands."""

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import uvicorn
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from litestar import Litestar, Request, Router
from litestar.di import NamedDependency, Provide
from litestar.middleware import DefineMiddleware
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from common import consumers, db as database, dead_letters, logs, metrics, tracing
from common.applying import EventApplier, EventHandlers
from common.consumers import RetryPolicy
from common.db import Database
from common.http import CORRELATION_HEADER, Identity, health_routes, problem_details
from common.internal_identity import gateway_only, identity
from common.kafka import kafka_reachable, make_producer
from common.outbox import OutboxRelay
from common.settings import ServiceSettings


SHUTDOWN_STEP_MIN_SECONDS = 1.0  # what a step still gets once the shutdown's bound has passed
Settings = TypeVar("Settings", bound=BaseSettings)

log = logging.getLogger(__name__)


PARKING_SWEEP_SECONDS = 5.0


async def _sweep_parked(applier: EventApplier, db: Database) -> None:
    while True:
        await asyncio.sleep(PARKING_SWEEP_SECONDS)
        try:
            await applier.sweep_parked(db)
        except Exception:  # noqa: BLE001 - the database may be away; try again later
            log.exception("sweeping parked events failed")


async def _settle(task: asyncio.Task) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _shut_down(name: str, broker: KafkaBroker, relay: OutboxRelay, relay_task: asyncio.Task,
                     others: Sequence[asyncio.Task], producer: AIOKafkaProducer, db: Database,
                     timeout_s: float) -> None:
    """SIGTERM (uvicorn runs the lifespan's end): stop fetching, finish and commit the
    batch under way (DB, then offsets), leave the group; then let the outbox relay
    publish what that batch wrote; then close. The whole is bounded by `timeout_s`:
    a stop that hangs (a broker that went away) must not keep the process from
    exiting; uncommitted offsets and unsent outbox rows are simply picked up again."""
    deadline = asyncio.get_running_loop().time() + timeout_s

    async def drain_relay() -> None:
        relay.stop()
        await _settle(relay_task)

    for task in others:
        task.cancel()
    steps = [("consumers", broker.stop()), ("outbox relay", drain_relay()),
             *((task.get_name(), _settle(task)) for task in others),
             ("producer", producer.stop()), ("database", db.dispose())]
    for what, step in steps:
        left = max(deadline - asyncio.get_running_loop().time(), SHUTDOWN_STEP_MIN_SECONDS)
        try:
            await asyncio.wait_for(step, left)
        except TimeoutError:
            log.warning("%s: stopping the %s took too long; moving on", name, what)
    log.info("%s stopped", name)


@dataclass
class Runtime:
    """What a running service holds; route handlers get it as `runtime`."""

    name: str
    settings: ServiceSettings
    db: Database
    producer: AIOKafkaProducer
    relay: OutboxRelay
    broker: KafkaBroker


# What every service app provides to its route handlers, under these parameter
# names: `runtime: RuntimeDep`, `db: DatabaseDep`, `who: IdentityDep`. Litestar
# wants injected parameters declared (inferred dependencies end with 3.0).
RuntimeDep: TypeAlias = NamedDependency[Runtime]
DatabaseDep: TypeAlias = NamedDependency[Database]
IdentityDep: TypeAlias = NamedDependency[Identity]


def _correlation_middleware(app: Any) -> Any:
    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        header = CORRELATION_HEADER.lower().encode()
        value = next((v.decode() for k, v in scope["headers"] if k == header), None)
        token = logs.correlation_id.set(value)
        try:
            await app(scope, receive, send)
        finally:
            logs.correlation_id.reset(token)

    return middleware


def create_service_app(
    name: str,
    settings: ServiceSettings,
    *,
    route_handlers: Sequence[Any],
    handlers: EventHandlers[Any] | None = None,
    needs: Callable[[Runtime], Any] = lambda runtime: None,
    exception_handlers: dict | None = None,
    extra_dependencies: dict[str, Provide] | None = None,
    on_start: Callable[[Runtime], Any] | None = None,
    gauges: Callable[[Runtime], Sequence[metrics.Refresher]] | None = None,
) -> Litestar:
    """A service's app: internal routes behind the internal-token guard, the
    outbox relay, and one batch consumer for its `handlers` (group id = name),
    which are given `needs(runtime)` with their events. `on_start(runtime)` runs
    before the consumers start and may return background tasks, cancelled at
    shutdown. `gauges(runtime)` are the service's own metrics refreshers, run
    when /metrics is scraped."""
    logs.configure(name, settings.log_level)
    tracing.configure(name)
    holder: dict[str, Runtime] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        db = Database(settings.database_url, pool_size=settings.db_pool_size)
        access = settings.kafka_access()
        producer = make_producer(access, client_id=name)
        await producer.start()
        relay = OutboxRelay(db, producer)
        db.after_commit(relay.wake_if_written)
        # graceful_timeout: on stop, FastStream stops fetching and waits (this long at
        # most) for the batch under way to be applied and its offsets committed, then
        # the consumer leaves the group, so its partitions move on with nothing to redo.
        broker = KafkaBroker(access.bootstrap_servers, security=access.security(), client_id=name, logger=None,
                             graceful_timeout=settings.shutdown_timeout_s)
        runtime = Runtime(name, settings, db, producer, relay, broker)
        holder["runtime"] = runtime
        app.state.runtime = runtime
        if handlers:
            handler_needs = needs(runtime)
            app.state.dead_letters = dead_letters.DeadLetterDesk(name, handlers, handler_needs, db, access)
            consumers.subscribe(
                broker,
                handlers,
                needs=handler_needs,
                group_id=name,
                db=db,
                dead_letters=producer,
                retry=RetryPolicy(
                    settings.consumer_max_retries, settings.consumer_retry_backoff_ms / 1000
                ),
                fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
                hand_over_timeout_s=settings.shutdown_timeout_s,
            )
        relay_task = asyncio.create_task(relay.run(), name=f"{name}-outbox-relay")
        background = [relay_task]
        if handlers:
            parked = EventApplier(handlers, handler_needs)
            background.append(asyncio.create_task(_sweep_parked(parked, db), name=f"{name}-parking"))
        try:
            if on_start:
                # The tasks it returns (a service's own background loops) are
                # stopped with the relay's.
                background.extend(await on_start(runtime) or ())
            await broker.start()
            yield
        finally:
            await _shut_down(name, broker, relay, relay_task, background[1:], producer, db,
                             settings.shutdown_timeout_s)
            tracing.shutdown()

    async def db_ready() -> bool:
        await holder["runtime"].db.ping()
        return True

    async def kafka_ready() -> bool:
        return await kafka_reachable(holder["runtime"].producer)

    def provide_runtime(request: Request) -> Runtime:
        return request.app.state.runtime

    def provide_db(request: Request) -> Database:
        return request.app.state.runtime.db

    def scraped_gauges() -> list[metrics.Refresher]:
        runtime = holder.get("runtime")
        if runtime is None:  # not started yet
            return []
        return [metrics.messaging_gauges(runtime.db), metrics.consumer_lag(runtime.broker),
                *(gauges(runtime) if gauges else ())]

    internal = Router(
        "/",
        route_handlers=[*route_handlers, *(dead_letters.route_handlers if handlers is not None else ())],
        guards=[gateway_only(name, settings.internal_signing_key)],
    )
    app = Litestar(
        route_handlers=[internal, *health_routes({"database": db_ready, "kafka": kafka_ready}),
                        metrics.metrics_route(scraped_gauges)],
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "db": Provide(provide_db, sync_to_thread=False),
            "who": Provide(identity, sync_to_thread=False),
            **(extra_dependencies or {}),
        },
        exception_handlers=exception_handlers or {},
        plugins=[problem_details()],
        lifespan=[lifespan],
        middleware=[DefineMiddleware(tracing.http_middleware), DefineMiddleware(_correlation_middleware),
                    DefineMiddleware(metrics.http_metrics_middleware)],
        # Our own JSON logging (common.logs) stays: Litestar's default config
        # would replace it and drop the correlation id from every line.
        logging_config=None,
        openapi_config=None,
    )
    if handlers:
        # for `python -m <service> dlq` (main), which applies outside a running service
        app.state.event_handlers = handlers
        app.state.handler_needs = needs
    return app


def load_settings(name: str, settings_factory: Callable[[], Settings]) -> Settings | None:
    """The settings, or None after saying on stderr, one line each, what is wrong with them."""
    try:
        return settings_factory()
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(map(str, error["loc"]))
            print(f"python -m {name} cannot start: {where + ': ' if where else ''}"
                  f"{error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return None


@dataclass(frozen=True)
class Command:
    """An operator command with options of its own (`python -m ledger reconcile --since ...`);
    a command without options is a plain `(settings) -> exit code`."""

    run: Callable[[ServiceSettings, argparse.Namespace], int]
    add_arguments: Callable[[argparse.ArgumentParser], None]


def _dead_letters_command(
    name: str, app_factory: Callable[[ServiceSettings], Litestar]
) -> Callable[[ServiceSettings, argparse.Namespace], int]:
    """`python -m <service> dlq ...` with the handlers the service's app consumes with."""
    def run(settings: ServiceSettings, arguments: argparse.Namespace) -> int:
        state = app_factory(settings).state
        handlers = getattr(state, "event_handlers", None)
        if handlers is None:
            print(f"{name} consumes no events: it has no dead letters", file=sys.stderr)
            return 2
        # No running service here: the services' needs are made of their settings and
        # clients (create_app's closures), never of the runtime, so none is given.
        needs = state.handler_needs(None)
        return dead_letters.cli(name, handlers, needs, settings.database_url, settings.kafka_access(), arguments)

    return run


def main(
    name: str,
    *,
    settings_factory: Callable[[], ServiceSettings],
    app_factory: Callable[[ServiceSettings], Litestar],
    migrations_dir: Path,
    commands: dict[str, Callable[[ServiceSettings], int] | Command] | None = None,
) -> int:
    """`python -m <service> migrate|serve|dlq|...`."""
    extra = {**(commands or {}), "dlq": Command(_dead_letters_command(name, app_factory), dead_letters.add_arguments)}
    parser = argparse.ArgumentParser(prog=f"python -m {name}")
    subcommands = parser.add_subparsers(dest="command", required=True)
    for command_name in ("migrate", "serve", *extra):
        options = subcommands.add_parser(command_name)
        if isinstance(extra.get(command_name), Command):
            extra[command_name].add_arguments(options)  # type: ignore[union-attr]
    arguments = parser.parse_args()
    command = arguments.command
    settings = load_settings(name, settings_factory)
    if settings is None:
        return 2
    if command == "migrate":
        database.migrate(migrations_dir, settings.owner_database_url)
        return 0
    if command == "serve":
        uvicorn.run(
            app_factory(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        return 0
    chosen = extra[command]
    return chosen.run(settings, arguments) if isinstance(chosen, Command) else chosen(settings)
