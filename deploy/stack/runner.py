"""The local stack: PostgreSQL, Kafka, stripe-mock, the SMTP sink, then the
services, as child processes on 127.0.0.1 with their state in .state/<profile>/."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from stack import kafka as kafka_mod
from stack import kafka_access
from stack import prereqs, stripe_mock
from stack.config import SERVICES, StackConfig, instance_name
from stack.handle import StackHandle
from stack.kafka import Kafka
from stack.postgres import Postgres
from stack.stripe_fixtures import write_fee_fixtures
from stack.procs import orphans, PidFile, Proc, StackError, log_tail, port_in_use, run_async, spawn, terminate, wait_until

INFRA = ("postgres", "kafka", "stripe-mock", "smtp-sink")
STOP_GRACE = {"kafka": 30.0}
# A service's own shutdown is bounded by CALLASTAR_SHUTDOWN_TIMEOUT_S (20 s): SIGKILL only after that.
SERVICE_STOP_GRACE = 25.0


def _service_of(process: str) -> str:
    """`ledger-2` -> `ledger`: the service an instance's process belongs to."""
    return process.rsplit("-", 1)[0] if process.rsplit("-", 1)[-1].isdigit() else process


class LocalStack:
    def __init__(self, cfg: StackConfig, *, fixtures: Path | None = None, stripe_fee_minor: int | None = None,
                 say: Callable[[str], None] = print) -> None:
        """`fixtures` replaces stripe-mock's; `stripe_fee_minor` derives them from the installed
        stripe-mock's own with that fee on every balance transaction (stack.stripe_fixtures)."""
        self.cfg = cfg
        self.fixtures = fixtures
        self.stripe_fee_minor = stripe_fee_minor
        self.install_seconds: dict[str, float] = {}
        self.say = say
        self.pidfile = PidFile(cfg.pids_file)
        self.pg = Postgres(cfg)
        self.kafka = Kafka(cfg)
        self._popens: dict[str, subprocess.Popen] = {}

    # --- what is running ----------------------------------------------------
    def running(self) -> list[Proc]:
        return [p for p in self.pidfile.load() if p.alive()]

    def handle(self) -> StackHandle:
        return StackHandle(env=self.cfg.env(), maildir=self.cfg.maildir)

    def service_env(self, principal: str) -> dict[str, str]:
        """The CALLASTAR_* variables of one process (it is `principal` to Kafka)."""
        return self.cfg.process_env(principal)

    def child_env(self, principal: str) -> dict[str, str]:
        return {**os.environ, **self.service_env(principal), "PYTHONUNBUFFERED": "1"}

    # --- start --------------------------------------------------------------
    def preflight(self, *, reset: bool, services: bool = True) -> None:
        """Refuse to start over a running stack (or clean it up when `reset`),
        then check every prerequisite before anything is started."""
        leftovers = self.running() + orphans(self.cfg.state_dir)
        if leftovers or self.pg.running():
            if not reset:
                names = ", ".join(f"{p.name} (pid {p.pid})" for p in leftovers) or "postgres"
                raise StackError(
                    f"A {self.cfg.profile} stack is already running ({names}): stop it with "
                    f"`./callastar down --profile {self.cfg.profile}` first."
                )
            self.say(f"Stopping a leftover {self.cfg.profile} stack ...")
            self.stop()
        prereqs.check(self.cfg, services=services)

    def start_infra(self, *, reset: bool = False) -> StackHandle:
        """Start PostgreSQL, Kafka (and its topics), stripe-mock and the SMTP sink.
        With `reset`, a leftover stack is stopped and broken state is wiped once."""
        t0 = time.monotonic()
        self.preflight(reset=reset, services=False)
        for d in (self.cfg.state_dir, self.cfg.logs_dir, self.cfg.maildir):
            d.mkdir(parents=True, exist_ok=True)
        self.install()

        self._step("PostgreSQL", self.pg.start, self.pg.wipe if reset else None, self.cfg.ports["pg"])
        self._step("Kafka", self._start_kafka, self.kafka.wipe if reset else None, self.cfg.ports["kafka"])
        if not self.cfg.uses_real_stripe:
            self._step("stripe-mock", lambda pf: stripe_mock.start(self.cfg, pf, self.fixtures), None,
                       self.cfg.ports["stripe_mock"])
        self._step("SMTP sink", self._start_smtp, None, self.cfg.ports["smtp"])
        self.say(f"Infrastructure ready in {time.monotonic() - t0:.1f}s")
        return self.handle()

    def install(self) -> None:
        """Install what is missing (the Kafka jars, stripe-mock), then derive stripe-mock's
        fixtures from the installed copy; each step's duration goes to `install_seconds`."""
        self._timed_install("Kafka jars (Maven)", kafka_mod.install_jars)
        if not self.cfg.uses_real_stripe:
            self._timed_install("stripe-mock (go install)", stripe_mock.install)
            if self.stripe_fee_minor is not None:
                self.fixtures = write_fee_fixtures(self.cfg, self.stripe_fee_minor)

    def _timed_install(self, what: str, install: Callable[[StackConfig], object]) -> None:
        t0 = time.monotonic()
        install(self.cfg)
        self.install_seconds[what] = time.monotonic() - t0

    def _step(self, what: str, start: Callable[[PidFile], None], wipe: Callable[[], None] | None, port: int) -> None:
        t0 = time.monotonic()
        try:
            start(self.pidfile)
        except StackError as exc:
            if wipe is None:
                raise
            self.say(f"{what} did not start ({str(exc).splitlines()[0]}); wiping its state and retrying once ...")
            self._stop_named({"kafka"} if what == "Kafka" else set())
            wipe()
            start(self.pidfile)
        self.say(f"  {what:<12} ready on 127.0.0.1:{port} ({time.monotonic() - t0:.1f}s)")

    def _start_kafka(self, pidfile: PidFile) -> None:
        self.kafka.start(pidfile)
        created = run_async(lambda: kafka_mod.create_topics(self.cfg.kafka_admin, self.cfg.partitions))
        if created:
            self.say(f"  created {len(created)} topics with {self.cfg.partitions} partitions each")
        kafka_access.provision(self.cfg.kafka_admin, self.cfg.kafka_passwords())

    def _start_smtp(self, pidfile: PidFile) -> None:
        start_smtp_sink(self.cfg.ports["smtp"], self.cfg.maildir, self.cfg.logs_dir / "smtp-sink.log", pidfile)

    def start_services(self) -> StackHandle:
        """Migrate and serve payments, ledger, payouts, notifications, then the gateway."""
        t0 = time.monotonic()
        instances = [(svc, n) for svc in SERVICES for n in range(1, self.cfg.replicas(svc) + 1)]
        for name, port in [(instance_name(svc, n), self.cfg.instance_port(svc, n)) for svc, n in instances] + [
                ("gateway", self.cfg.ports["gateway"])]:
            if port_in_use(port):
                raise StackError(
                    f"Port {port} ({name}) on 127.0.0.1 is already taken by another program: stop it, or set "
                    f"CALLASTAR_STACK_{self.cfg.profile.upper()}_{name.split('-')[0].upper()}_PORT to a free port."
                )
        for svc in SERVICES:
            log = self.cfg.logs_dir / f"{svc}.log"
            with open(log, "ab") as out:
                out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {svc} migrate\n".encode())
                out.flush()
                result = subprocess.run([sys.executable, "-m", svc, "migrate"], env=self.child_env(svc), stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.cfg.root,
                                        timeout=300)
            if result.returncode != 0:
                raise StackError(f"`python -m {svc} migrate` failed (exit {result.returncode}); log {log}:\n{log_tail(log)}")
        for group in (instances, [("gateway", 1)]):
            for svc, n in group:
                self.spawn_instance(svc, n)
            for svc, n in group:
                self.wait_ready(svc, n)
        self.say(f"Services ready in {time.monotonic() - t0:.1f}s")
        handle = self.handle()
        handle.services_started = True
        return handle

    def spawn_instance(self, service: str, index: int = 1) -> subprocess.Popen:
        """Start instance `index` of `service` (`serve`, on its own port, in the service's one
        consumer group); its output goes to logs/<instance>.log."""
        name = instance_name(service, index)
        env = self.child_env(service)
        if service != "gateway":
            env[f"CALLASTAR_{service.upper()}_PORT"] = str(self.cfg.instance_port(service, index))
        self._popens[name], _ = spawn(name, [sys.executable, "-m", service, "serve"],
                                      log=self.cfg.logs_dir / f"{name}.log", env=env, cwd=self.cfg.root,
                                      marker=f"-m {service} serve", pidfile=self.pidfile)
        return self._popens[name]

    def wait_ready(self, service: str, index: int = 1) -> None:
        name = instance_name(service, index)
        port = self.cfg.ports["gateway"] if service == "gateway" else self.cfg.instance_port(service, index)
        url = f"http://127.0.0.1:{port}/ready"
        wait_until(lambda: httpx.get(url, timeout=2).status_code == 200, timeout=90, what=f"{name} ({url})",
                   proc=self._popens[name], log=self.cfg.logs_dir / f"{name}.log", interval=0.3)
        self.say(f"  {name:<14} ready on 127.0.0.1:{port}")

    # --- stop ---------------------------------------------------------------
    def _stop_named(self, names: set[str]) -> None:
        procs = [p for p in self.pidfile.load() if p.name in names]
        terminate(procs, grace=max((STOP_GRACE.get(p.name, 10.0) for p in procs), default=10.0))
        for p in procs:
            self.pidfile.remove(p.name)

    def stop(self) -> None:
        """Stop everything this profile's stack runs, services first, PostgreSQL last."""
        recorded = self.pidfile.load()
        terminate([p for p in recorded if p.name == "gateway"], grace=10)
        terminate([p for p in recorded if _service_of(p.name) in SERVICES], grace=SERVICE_STOP_GRACE)
        for name in ("smtp-sink", "stripe-mock", "kafka"):
            terminate([p for p in recorded if p.name == name], grace=STOP_GRACE.get(name, 10.0))
        self.pg.stop()
        others = [p for p in recorded if _service_of(p.name) not in (*SERVICES, "gateway", *INFRA)]
        terminate(others + orphans(self.cfg.state_dir))
        leftover = [p for p in recorded if p.name != "postgres" and p.alive()]
        if leftover:
            raise StackError(f"Could not stop: {', '.join(f'{p.name} (pid {p.pid})' for p in leftover)}")
        self.pidfile.save([])

    def first_dead(self) -> Proc | None:
        """A recorded process that has exited (for `up` to notice a crash)."""
        for p in self.pidfile.load():
            if p.name == "postgres":
                if not self.pg.running():
                    return p
            elif not p.alive():
                return p
        return None

    # --- status -------------------------------------------------------------
    def status(self) -> list[tuple[str, str, int | None]]:
        rows: list[tuple[str, str, int | None]] = []
        recorded = {p.name: p for p in self.pidfile.load()}
        instances = [instance_name(s, n) for s in SERVICES for n in range(1, self.cfg.replicas(s) + 1)]
        for name in (*INFRA, *dict.fromkeys([*instances, *(p for p in recorded if _service_of(p) in SERVICES)]),
                     "gateway"):
            p = recorded.get(name)
            if name == "postgres":
                state = "running" if self.pg.running() else "stopped"
            else:
                state = "running" if p and p.alive() else ("dead" if p else "stopped")
            rows.append((name, state, p.pid if p else None))
        return rows


def smtp_ready(port: int) -> bool:
    with smtplib.SMTP("127.0.0.1", port, timeout=2) as smtp:
        return smtp.noop()[0] == 250


def start_smtp_sink(port: int, maildir: Path, log: Path, pidfile: PidFile | None) -> subprocess.Popen:
    maildir.mkdir(parents=True, exist_ok=True)
    popen, _ = spawn(
        "smtp-sink",
        [sys.executable, "-m", "stack.smtp_sink", "--port", str(port), "--maildir", str(maildir)],
        log=log, marker="stack.smtp_sink", pidfile=pidfile,
    )
    wait_until(lambda: smtp_ready(port), timeout=30, what=f"SMTP sink on 127.0.0.1:{port}", proc=popen, log=log)
    return popen
