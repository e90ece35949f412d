"""Child processes: start them in their own session, record their pids in the
state folder, stop them (SIGTERM, then SIGKILL after a grace)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


STATE_TAG = "CALLASTAR_STACK_STATE"


class StackError(RuntimeError):
    """The stack cannot start; the message says why in one sentence."""


@dataclass
class Proc:
    name: str
    pid: int
    log: str
    marker: str  # a substring of the command line, to avoid signalling a reused pid

    def alive(self) -> bool:
        return pid_matches(self.pid, self.marker)


def pid_matches(pid: int, marker: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # zombie: exited, not yet reaped
        return False
    return marker in cmdline


class PidFile:
    """`<state>/pids.json`: what this profile's stack is running, for `down` and `status`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[Proc]:
        try:
            return [Proc(**item) for item in json.loads(self.path.read_text())]
        except (FileNotFoundError, ValueError, TypeError):
            return []

    def save(self, procs: Sequence[Proc]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([p.__dict__ for p in procs], indent=2))
        tmp.replace(self.path)

    def add(self, proc: Proc) -> None:
        procs = [p for p in self.load() if p.name != proc.name]
        self.save([*procs, proc])

    def remove(self, name: str) -> None:
        self.save([p for p in self.load() if p.name != name])


def spawn(
    name: str,
    cmd: Sequence[str],
    *,
    log: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    marker: str | None = None,
    pidfile: PidFile | None = None,
) -> tuple[subprocess.Popen, Proc]:
    """Start `cmd` in a new session (Ctrl-C on the terminal does not reach it;
    the runner stops it in order), output appended to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ if env is None else env)
    if pidfile is not None:
        # tags every process of this stack, so an orphan of a killed run can be found and stopped
        env[STATE_TAG] = str(pidfile.path.parent)
    with open(log, "ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
        out.flush()
        popen = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    _children[popen.pid] = popen
    proc = Proc(name=name, pid=popen.pid, log=str(log), marker=marker or cmd[0])
    if pidfile is not None:
        pidfile.add(proc)
    return popen, proc


def terminate(procs: Sequence[Proc], grace: float = 10.0) -> None:
    """SIGTERM each process group, wait up to `grace` seconds, SIGKILL what is left."""
    live = [p for p in procs if p.alive()]
    for p in live:
        _signal(p.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        _reap()
        live = [p for p in live if p.alive()]
        if live:
            time.sleep(0.1)
    for p in live:
        _signal(p.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while live and time.monotonic() < deadline:
        _reap()
        live = [p for p in live if p.alive()]
        if live:
            time.sleep(0.05)


def orphans(state_dir: Path) -> list[Proc]:
    """Processes tagged with this state folder (see `spawn`) that are still alive,
    e.g. left behind when a previous runner was killed with SIGKILL."""
    tag = f"{STATE_TAG}={state_dir}".encode()
    skip = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in skip:
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if tag in environ:
            found.append(Proc(name=f"orphan-{entry.name}", pid=int(entry.name), log="", marker=""))
    return [p for p in found if p.alive()]


def _signal(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)  # children run as session (and group) leaders
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


_children: dict[int, subprocess.Popen] = {}


def _reap() -> None:
    """Collect exit statuses of the children this process started (only those)."""
    for pid, popen in list(_children.items()):
        if popen.poll() is not None:
            _children.pop(pid, None)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def log_tail(path: Path | str, lines: int = 30) -> str:
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no log at {path})"
    return "\n".join(text[-lines:])


def wait_until(check, *, timeout: float, what: str, interval: float = 0.2, proc: subprocess.Popen | None = None,
               log: Path | None = None):
    """Poll `check()` until it returns a truthy value; fail after `timeout` seconds
    (or as soon as `proc` exits) with the tail of `log`."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while True:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - readiness probes fail in many ways until ready
            last_error = exc
        if proc is not None and proc.poll() is not None:
            raise StackError(
                f"{what} exited with code {proc.returncode} before it was ready; log {log}:\n{log_tail(log) if log else ''}"
            )
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            tail = f"; log {log}:\n{log_tail(log)}" if log else ""
            raise StackError(f"{what} was not ready after {timeout:.0f}s{detail}{tail}")
        time.sleep(interval)


def run_async(coro_factory):
    """Run `coro_factory()` to completion on a private event loop in a worker
    thread, so it works whether or not the caller is inside a running loop."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(coro_factory())).result()
