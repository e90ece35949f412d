"""The bench counts the CPU of its own stack's processes, not of another
stack's on the same machine (several developers share one)."""

import os
import subprocess
import time

import psutil

from tests.load.cpu import CpuSample, role_of, stack_pids


def started_as_kafka() -> subprocess.Popen:
    """A process whose command line is a Kafka broker's, as another stack's would be."""
    process = subprocess.Popen(["bash", "-c", "exec -a kafka.Kafka sleep 60"])
    deadline = time.monotonic() + 10
    while psutil.Process(process.pid).cmdline()[:1] != ["kafka.Kafka"]:
        assert time.monotonic() < deadline, "the stand-in never took Kafka's command line"
        time.sleep(0.05)
    return process


def test_only_the_processes_of_one_stack_count():
    other = started_as_kafka()
    try:
        assert CpuSample.take().seconds[other.pid][0] == "Kafka"  # machine-wide, it would count
        assert other.pid not in CpuSample.take(stack_pids([])).seconds
        # A recorded process's descendants are the stack's (PostgreSQL's backends).
        assert other.pid in CpuSample.take(stack_pids([psutil.Process().pid])).seconds
    finally:
        other.kill()
        other.wait()


def test_the_baseline_processes_have_roles():
    def role(*command: str) -> str | None:
        process = psutil.Process(os.getppid())  # any but this one (the bench client): only the command line counts
        process.info = {"cmdline": list(command)}
        return role_of(process)

    assert role("/usr/bin/python3", "-m", "tests.load.baseline.stages", "ledger") == "baseline ledger"
    assert role("/usr/bin/python3", "-m", "tests.load.baseline.intake") == "baseline intake"
    assert role("/usr/bin/python3", "-m", "ledger", "serve") == "ledger"

