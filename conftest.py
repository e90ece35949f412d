"""The shared stack fixtures.

`infra`  (session): PostgreSQL, Kafka with every contracts topic, stripe-mock and
         the SMTP sink; nothing else. Unit tests that use neither fixture start nothing.
`stack`  (session): `infra` plus the four services and the gateway.
`publish_events` (session): put contract events on the test stack's Kafka.

When either was used, the run ends with `python -m ledger check` and
`python -m ledger verify-journal` against the ledger database the tests used:
broken ledger invariants or a broken journal chain fail the run.

Both return a `stack.StackHandle`: `env`, `gateway_url`, `database_url(service)`,
`asyncpg_dsn(service)`, `kafka_bootstrap`, `stripe_api_base`, `maildir`, `smtp_port`.
The backend is CALLASTAR_TEST_STACK=local (default) | containers | external;
see deploy/README.md. A stack that cannot start fails the tests, it never skips them.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys

import pytest

from common.kafka import make_producer, publish
from stack.otlp_sink import OtlpSink
from stack.procs import StackError
from stack.testing import make_backend, timed


# The test session is a development deployment: settings built in-process (unit
# tests, in-process apps) accept the public development secrets, as the test stack does.
os.environ.setdefault("CALLASTAR_ENV", "test")

LEDGER_CHECK = pytest.StashKey[tuple[bool, str]]()
SETUP_SECONDS = pytest.StashKey[dict[str, float]]()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that need the stack's own services run after every other test. The
    services' integration tests run a service in-process in its real consumer
    group: a stack process of the same service started before them would take
    half their partitions (and answer their events itself)."""
    items.sort(key=lambda item: "stack" in getattr(item, "fixturenames", ()))  # stable: file order otherwise


def _check_ledger(handle, config: pytest.Config) -> None:
    """Run the ledger's invariant check and chain verification while the stack
    still runs (migrating first, so a run that never touched the ledger checks
    an empty journal)."""
    env = {**os.environ, **handle.env}
    reports = []
    for command in ("migrate", "check", "verify-journal"):
        try:
            done = subprocess.run(
                [sys.executable, "-m", "ledger", command], env=env, capture_output=True, text=True, timeout=600
            )
        except (OSError, subprocess.TimeoutExpired) as exc:  # the stack must still be stopped
            config.stash[LEDGER_CHECK] = (False, f"python -m ledger {command}: {exc}")
            return
        if done.returncode != 0:
            config.stash[LEDGER_CHECK] = (False, f"python -m ledger {command}:\n{done.stdout}{done.stderr}")
            return
        reports.append(done.stdout.strip())
    config.stash[LEDGER_CHECK] = (True, "\n".join(report for report in reports if report))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if LEDGER_CHECK not in session.config.stash:
        return
    ok, report = session.config.stash[LEDGER_CHECK]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "ledger invariants" if ok else "LEDGER INVARIANTS BROKEN", red=not ok, green=ok)
        reporter.write_line(report)
    if not ok and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    """How long the set-up took: on CI's empty caches (.ci/run) these are the cold figures."""
    steps = {}
    if workspace := os.environ.get("CALLASTAR_WORKSPACE_SETUP_SECONDS"):
        steps["workspace (uv, uv sync)"] = float(workspace)
    if console := os.environ.get("CALLASTAR_CONSOLE_SETUP_SECONDS"):
        steps["console (npm ci, esbuild)"] = float(console)
    if chromium := os.environ.get("CALLASTAR_CHROMIUM_SETUP_SECONDS"):
        steps["chromium (apt-get)"] = float(chromium)
    steps.update(config.stash.get(SETUP_SECONDS, {}))
    if steps:
        terminalreporter.write_sep("=", "set-up")
        for what, seconds in steps.items():
            terminalreporter.write_line(f"{what:<32} {seconds:7.1f} s")
        terminalreporter.write_line(f"{'total':<32} {sum(steps.values()):7.1f} s")
    if audit := os.environ.get("CALLASTAR_AUDIT"):  # ./callastar test audits uv.lock first
        terminalreporter.write_line(f"dependency audit: {audit}")


def _fail(what: str, exc: BaseException) -> None:
    reason = str(exc) if isinstance(exc, StackError) else f"{type(exc).__name__}: {exc}"
    pytest.fail(f"The test stack could not start {what}: {reason}", pytrace=False)


@pytest.fixture(scope="session")
def infra(request):
    try:
        backend = make_backend()
    except StackError as exc:
        _fail("(bad CALLASTAR_TEST_STACK)", exc)
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            stopped = True
            backend.stop()

    atexit.register(stop)  # a safety net if the session is torn down abnormally
    previous_term = signal.getsignal(signal.SIGTERM)
    if previous_term in (signal.SIG_DFL, None):
        # `kill <pytest>` (e.g. a cancelled CI job) still stops the stack
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        handle, seconds = timed(f"{backend.name} infrastructure started", backend.start_infra)
        installs = getattr(getattr(backend, "runner", None), "install_seconds", {})
        request.config.stash.setdefault(SETUP_SECONDS, {}).update(
            {**installs, "infrastructure start": seconds - sum(installs.values())})
    except BaseException as exc:
        stop()
        if isinstance(exc, Exception):
            _fail("its infrastructure", exc)
        raise
    handle.extra["backend"] = backend
    saved = {key: os.environ.get(key) for key in handle.env}
    os.environ.update(handle.env)  # in-process service code reads its settings from here
    try:
        yield handle
    finally:
        _check_ledger(handle, request.config)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        stop()
        if previous_term in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.fixture(scope="session")
def stack(infra, request):
    if not infra.services_started:
        backend = infra.extra["backend"]
        # The services the runner starts export their spans to a receiver in this
        # process (the `traces` fixture); in-process apps and later runs do not.
        infra.extra["traces"] = traces = OtlpSink().start()
        request.addfinalizer(traces.stop)
        tracing_env = {"OTEL_EXPORTER_OTLP_ENDPOINT": traces.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "200"}
        saved = {key: os.environ.get(key) for key in tracing_env}
        os.environ.update(tracing_env)
        try:
            _, seconds = timed("services started", backend.start_services, infra)
            request.config.stash.setdefault(SETUP_SECONDS, {})["services start (migrations)"] = seconds
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none skipped
            _fail("its services", exc)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        os.environ.update(infra.env)
        infra.services_started = True
    return infra


@pytest.fixture(scope="session")
def traces(stack) -> OtlpSink:
    """The spans the stack's services exported (a stack started elsewhere: none)."""
    sink = stack.extra.get("traces")
    if sink is None:
        pytest.fail("the stack was not started by this session: its traces are not received here", pytrace=False)
    return sink


@pytest.fixture(scope="session")
async def publish_events(infra):
    """Publish contract events to the test stack's Kafka as their producer would
    (acks=all, keyed), waiting for each: `await publish_events(event, ...)`."""
    producer = make_producer(infra.kafka, client_id="tests")
    await producer.start()

    async def send(*events) -> None:
        for event in events:
            await publish(producer, event)

    yield send
    await producer.stop()


@pytest.fixture(scope="session")
def kustomize(request):
    """The kustomize binary that renders deploy/k8s, built once into .state/bin."""
    from stack import kustomize as tool
    from stack.config import StackConfig

    bin_dir = StackConfig.for_profile("test").bin_dir
    fresh = not tool.binary_path(bin_dir).exists()
    try:
        binary, seconds = timed(f"kustomize {tool.VERSION} ready", tool.install, bin_dir)
    except StackError as exc:
        pytest.fail(f"kustomize could not be built: {exc}", pytrace=False)
    if fresh:
        request.config.stash.setdefault(SETUP_SECONDS, {})["kustomize (go install)"] = seconds
    return binary
