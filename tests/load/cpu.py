"""Where a benchmark's CPU goes: process CPU time of the stack's parts on this
machine, read before and after the timed part."""

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import psutil

from stack.config import SERVICES

PROCESSES = (*SERVICES, "gateway")  # each runs as `python -m <name> serve`
BASELINE_MODULE = "tests.load.baseline."  # `-m ….intake`, `-m ….stages <stage>`
BASELINE_ROLE = "baseline "


def role_of(process: psutil.Process) -> str | None:
    """Which part of the stack a process is, from its command line; None if none."""
    if process.pid == os.getpid():
        return "bench client"
    command = process.info["cmdline"] or []
    line = " ".join(command)
    if line.startswith("postgres") or (command and command[0].endswith("/postgres")):
        return "PostgreSQL"
    if "kafka.Kafka" in command:
        return "Kafka"
    if command and command[0].endswith("stripe-mock"):
        return "stripe-mock"
    if len(command) >= 4 and command[1:2] == ["-m"] and command[2] in PROCESSES and command[3] == "serve":
        return command[2]
    if len(command) >= 3 and command[1:2] == ["-m"] and command[2].startswith(BASELINE_MODULE):
        return BASELINE_ROLE + (command[3] if len(command) >= 4 else command[2].removeprefix(BASELINE_MODULE))
    return None


def stack_pids(recorded: Iterable[int]) -> set[int]:
    """One stack's processes: those its runner recorded, their descendants
    (PostgreSQL's backends) and this one; not another stack's on the same machine."""
    pids = {os.getpid()}
    for pid in recorded:
        try:
            pids |= {pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))}
        except psutil.NoSuchProcess:
            continue
    return pids


@dataclass(frozen=True)
class CpuSample:
    seconds: dict[int, tuple[str, float]]  # pid -> (role, user + system CPU seconds)

    @classmethod
    def take(cls, within: set[int] | None = None) -> "CpuSample":
        """Every part of a stack running on this machine, or only the processes `within`."""
        seconds = {}
        for process in psutil.process_iter(["cmdline", "cpu_times"]):
            if within is not None and process.pid not in within:
                continue
            role = role_of(process)
            times = process.info["cpu_times"]
            if role and times:
                seconds[process.pid] = (role, times.user + times.system)
        return cls(seconds)

    def since(self, before: "CpuSample") -> dict[str, float]:
        """CPU seconds per role between the two samples (a process started
        meanwhile counts from zero)."""
        spent: dict[str, float] = defaultdict(float)
        for pid, (role, seconds) in self.seconds.items():
            earlier = before.seconds.get(pid)
            spent[role] += seconds - (earlier[1] if earlier and earlier[0] == role else 0.0)
        return dict(spent)


def report(spent: dict[str, float], events: int) -> str:
    total = sum(spent.values())
    parts = ", ".join(f"{role} {seconds / events * 1000:.2f}" for role, seconds in
                      sorted(spent.items(), key=lambda item: -item[1]))
    cores = psutil.cpu_count() or 1
    # Per-event cost falls as load rises (bigger batches): the rate below holds
    # for the load measured, it is no ceiling.
    return (f"CPU per event (ms): {parts}; total {total / events * 1000:.2f} ms: "
            f"at that cost {cores} cores would serve {cores * events / total:.0f} events/s")
