"""stripe-mock, the official Stripe API mock (a Go program), built with `go install` once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from stack.config import STRIPE_MOCK_KEY, STRIPE_MOCK_VERSION, StackConfig
from stack.procs import PidFile, StackError, spawn, wait_until


def install(cfg: StackConfig) -> Path:
    binary = cfg.bin_dir / "stripe-mock"
    if binary.exists():
        return binary
    print(f"Building stripe-mock {STRIPE_MOCK_VERSION} with go install (once) ...", flush=True)
    cfg.bin_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(cfg.bin_dir)}
    result = subprocess.run(
        ["go", "install", f"github.com/stripe/stripe-mock@{STRIPE_MOCK_VERSION}"],
        env=env, capture_output=True, text=True, cwd=cfg.bin_dir,
    )
    if result.returncode != 0 or not binary.exists():
        raise StackError(f"go install of stripe-mock failed: {(result.stdout + result.stderr).strip()[-2000:]}")
    return binary


def ready(base: str) -> bool:
    response = httpx.get(f"{base}/v1/charges", headers={"Authorization": f"Bearer {STRIPE_MOCK_KEY}"}, timeout=2)
    return response.status_code == 200


def start(cfg: StackConfig, pidfile: PidFile, fixtures: Path | None = None) -> None:
    """Start stripe-mock on the profile's HTTP and HTTPS ports; `fixtures` replaces
    its bundled fixtures (a JSON file) when given."""
    binary = install(cfg)
    http_port, https_port = cfg.ports["stripe_mock"], cfg.ports["stripe_mock_https"]
    cmd = [str(binary), "-http-addr", f"127.0.0.1:{http_port}", "-https-addr", f"127.0.0.1:{https_port}"]
    if fixtures is not None:
        cmd += ["-fixtures", str(fixtures)]
    log = cfg.logs_dir / "stripe-mock.log"
    popen, _ = spawn("stripe-mock", cmd, log=log, marker="stripe-mock", pidfile=pidfile)
    base = f"http://127.0.0.1:{http_port}"
    wait_until(lambda: ready(base), timeout=30, what=f"stripe-mock on {base}", proc=popen, log=log)
