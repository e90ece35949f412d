"""Go programs the stack builds from the Go module proxy, once, with `go install`
(checksums verified against Go's checksum database, as for any module)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from stack.procs import StackError


def go_install(package: str, version: str, gobin: Path) -> dict[str, str]:
    """Build `package@version` into `gobin`; returns the environment it ran with."""
    gobin.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(gobin)}
    result = subprocess.run(["go", "install", f"{package}@{version}"], env=env, capture_output=True, text=True,
                            cwd=gobin)
    if result.returncode != 0:
        raise StackError(f"go install {package}@{version} failed: {(result.stdout + result.stderr).strip()[-2000:]}")
    return env
