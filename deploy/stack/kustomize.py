"""kustomize, which renders deploy/k8s, built from the Go module proxy with
`go install` once (like stripe-mock) into the stack's bin folder: the manifests'
tests render the overlays with the reference implementation, offline."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from stack.gotools import go_install
from stack.procs import StackError

MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
VERSION = "v5.8.1"


def binary_path(bin_dir: Path) -> Path:
    return bin_dir / f"kustomize-{VERSION}" / "kustomize"


def install(bin_dir: Path) -> Path:
    binary = binary_path(bin_dir)
    if not binary.exists():
        print(f"Building kustomize {VERSION} with go install (once) ...", flush=True)
        go_install(MODULE, VERSION, binary.parent)
    return binary


def build(binary: Path, directory: Path) -> list[dict]:
    """`kustomize build directory`, as the resources it renders."""
    done = subprocess.run([str(binary), "build", str(directory)], capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"kustomize build {directory} failed: {done.stderr.strip()[-2000:]}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
