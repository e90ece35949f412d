"""The services' resident memory, read from /proc of the processes the stack
recorded (its own, not another stack's on the same machine)."""

from pathlib import Path

from stack.config import SERVICES
from stack.procs import Proc

CEILING_MB = 200  # issue 13: each service stays below this after the 6,600-payment run


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    return 0.0


def services_rss(recorded: list[Proc]) -> dict[str, float]:
    return {proc.name: rss_mb(proc.pid) for proc in recorded if proc.name in (*SERVICES, "gateway") and proc.alive()}


def report(rss: dict[str, float]) -> str:
    parts = ", ".join(f"{name} {mb:.0f} MB{' (above ' + str(CEILING_MB) + ' MB)' if mb > CEILING_MB else ''}"
                      for name, mb in sorted(rss.items(), key=lambda item: -item[1]))
    over = [name for name, mb in rss.items() if mb > CEILING_MB]
    return f"memory (RSS) after the run: {parts}; " + (
        f"ABOVE {CEILING_MB} MB: {', '.join(sorted(over))}" if over else f"all below {CEILING_MB} MB")
