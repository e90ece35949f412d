"""The runner's install steps on a machine that never ran them: empty Go and
Maven caches and an empty state folder. Anything the stack reads must then come
from what these steps wrote, not from a cache an earlier command happened to fill
(the stripe-mock fixtures once did)."""

from __future__ import annotations

import shutil
import socket
from dataclasses import replace

import stripe

from stack import stripe_mock
from stack.config import KAFKA_VERSION, StackConfig
from stack.procs import PidFile, terminate
from stack.stripe_fixtures import FEE_MINOR
from stack.runner import LocalStack


def free_port_block() -> int:
    """An offset whose stripe-mock ports (12111, 12112 + offset) are both free now."""
    for offset in range(20000, 40000, 100):
        ports = (12111 + offset, 12112 + offset)
        if all(_free(p) for p in ports):
            return offset
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def cold_config(tmp_path, monkeypatch) -> StackConfig:
    """A stack config whose state folder and Go / Maven caches are all empty."""
    monkeypatch.setenv("GOPATH", str(tmp_path / "go"))
    monkeypatch.setenv("GOMODCACHE", str(tmp_path / "go" / "pkg" / "mod"))
    monkeypatch.setenv("GOFLAGS", "-modcacherw")  # so tmp_path can be removed
    monkeypatch.setenv("MAVEN_OPTS", f"-Dmaven.repo.local={tmp_path / 'm2'}")
    cfg = StackConfig.for_profile("test", environ={"CALLASTAR_STACK_PORT_OFFSET": str(free_port_block())})
    (tmp_path / "deploy").mkdir()
    shutil.copy(cfg.root / "deploy" / "pom.xml", tmp_path / "deploy")  # what Maven resolves the jars from
    return replace(cfg, root=tmp_path)  # state folder, bin/ and kafka-libs/ under tmp_path: empty


def test_the_runner_installs_and_starts_stripe_mock_from_empty_caches(tmp_path, monkeypatch):
    cfg = cold_config(tmp_path, monkeypatch)
    runner = LocalStack(cfg, stripe_fee_minor=FEE_MINOR, say=lambda _: None)
    pidfile = PidFile(cfg.pids_file)

    runner.install()
    cfg.logs_dir.mkdir(parents=True, exist_ok=True)
    stripe_mock.start(cfg, pidfile, runner.fixtures)
    try:
        client = stripe.StripeClient("sk_test_123", base_addresses={"api": cfg.stripe_api_base})
        txn = client.v1.balance_transactions.retrieve("txn_any")
    finally:
        terminate(pidfile.load(), grace=5)

    assert cfg.bin_dir.is_relative_to(tmp_path) and cfg.kafka_libs.is_relative_to(tmp_path)
    assert (tmp_path / "m2").is_dir()  # Maven used the empty repository, not ~/.m2
    assert (tmp_path / "go" / "pkg" / "mod").is_dir()  # and Go its empty module cache
    assert (cfg.kafka_libs / f"kafka_2.13-{KAFKA_VERSION}.jar").exists()
    assert stripe_mock.installed(cfg)
    assert txn.fee == FEE_MINOR  # the fixtures were derived from what the install wrote
