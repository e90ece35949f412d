"""stripe-mock, the official Stripe API mock (a Go program), built with `go install` once.

The install keeps a copy of the module's own fixtures (embedded/openapi/fixtures3.json)
beside the binary: whatever derives fixtures from them (stack.stripe_fixtures) then
reads a file this install wrote, never Go's module cache, which may have been
emptied since (or point elsewhere for another user)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx

from stack.config import STRIPE_MOCK_KEY, STRIPE_MOCK_VERSION, StackConfig
from stack.gotools import go_install
from stack.procs import PidFile, StackError, spawn, wait_until

MODULE = "github.com/stripe/stripe-mock"


def binary_path(cfg: StackConfig) -> Path:
    return cfg.bin_dir / "stripe-mock"


def fixtures_path(cfg: StackConfig) -> Path:
    """The copy of stripe-mock's bundled fixtures that `install` keeps."""
    return cfg.bin_dir / f"stripe-mock-{STRIPE_MOCK_VERSION}-fixtures3.json"


def installed(cfg: StackConfig) -> bool:
    return binary_path(cfg).exists() and fixtures_path(cfg).exists()


def install(cfg: StackConfig) -> Path:
    """Build the binary into the stack's bin folder and copy its fixtures there, once."""
    binary = binary_path(cfg)
    if installed(cfg):
        return binary
    print(f"Building stripe-mock {STRIPE_MOCK_VERSION} with go install (once) ...", flush=True)
    env = go_install(MODULE, STRIPE_MOCK_VERSION, cfg.bin_dir)
    if not binary.exists():
        raise StackError(f"go install of stripe-mock made no {binary}")
    # The module source is in the cache `go install` just used: ask the same go, with the same environment.
    listed = subprocess.run(
        ["go", "mod", "download", "-json", f"{MODULE}@{STRIPE_MOCK_VERSION}"],
        env=env, capture_output=True, text=True, cwd=cfg.bin_dir,
    )
    source = Path(_json_field(listed.stdout, "Dir") or "/nonexistent") / "embedded" / "openapi" / "fixtures3.json"
    if listed.returncode != 0 or not source.exists():
        raise StackError(f"stripe-mock {STRIPE_MOCK_VERSION} was built but its fixtures were not found "
                         f"({source}): {(listed.stdout + listed.stderr).strip()[-1000:]}")
    tmp = fixtures_path(cfg).with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    tmp.replace(fixtures_path(cfg))
    return binary


def _json_field(text: str, name: str) -> str | None:
    try:
        return json.loads(text).get(name)
    except ValueError:
        return None


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
