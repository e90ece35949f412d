"""The dependency audit that `./callastar test` runs first (`./callastar audit`):
`uv audit` reads uv.lock and asks an OSV-compatible advisory service about every
locked package. Here that service is a local one speaking OSV's protocol, so the
gate itself is proved: a known vulnerability in a locked package stops the
command, a clean answer lets it through, and an unreachable service is said out
loud (and stops it where CALLASTAR_AUDIT_REQUIRED=1)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ADVISORY = "GHSA-cafe-beef-0001"


class Advisories:
    """An OSV service knowing one advisory, against `affected` (a package name), or none."""

    def __init__(self, affected: str | None) -> None:
        self.affected = affected
        self.asked: list[str] = []

    def handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # /v1/querybatch: one result per queried package
                queries = json.loads(self.rfile.read(int(self.headers["content-length"])))["queries"]
                service.asked += [query["package"]["name"] for query in queries]
                self._answer({"results": [
                    {"vulns": [{"id": ADVISORY, "modified": "2026-11-30T00:00:00Z"}]}
                    if query["package"]["name"] == service.affected else {}
                    for query in queries
                ]})

            def do_GET(self) -> None:  # /v1/vulns/<id>: the advisory itself
                self._answer({
                    "id": ADVISORY, "summary": "remote code execution in a test", "modified": "2026-11-30T00:00:00Z",
                    "affected": [{"package": {"name": service.affected, "ecosystem": "PyPI"},
                                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}],
                })

            def _answer(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        return Handler


@contextmanager
def serve(advisories: Advisories) -> Iterator[str]:
    """The service's URL while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), advisories.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()


def audit(service_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    inherited = {name: value for name, value in os.environ.items() if name != "CALLASTAR_AUDIT_REQUIRED"}
    environment = {**inherited, "CALLASTAR_AUDIT_SERVICE_URL": service_url, **env}
    return subprocess.run([str(ROOT / "callastar"), "audit"], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def third_party_locked_packages() -> set[str]:
    """Every package in uv.lock but the workspace's own (callastar-*, never published)."""
    lines = (ROOT / "uv.lock").read_text().splitlines()
    return {line.split('"')[1] for line in lines if line.startswith("name = ")} - {
        line.split('"')[1] for line, source in zip(lines, lines[2:])
        if line.startswith("name = ") and source.startswith(("source = { editable", "source = { virtual"))
    }


def test_a_known_vulnerability_in_a_locked_package_stops_the_command() -> None:
    with serve(Advisories("litestar")) as url:
        run = audit(url)
    assert run.returncode == 1, run.stdout + run.stderr
    assert ADVISORY in run.stderr and "litestar" in run.stderr
    assert "the dependency audit failed" in run.stderr


def test_every_locked_package_is_asked_about_and_a_clean_answer_passes() -> None:
    advisories = Advisories(None)
    with serve(advisories) as url:
        run = audit(url)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "dependency audit: no known vulnerability in uv.lock" in run.stdout
    assert set(advisories.asked) == third_party_locked_packages()


def test_an_unreachable_advisory_service_is_said_and_fails_where_required() -> None:
    closed = "http://127.0.0.1:1"
    lenient = audit(closed)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "the dependency audit did not run: the advisory service cannot be reached" in lenient.stderr
    assert "dependency audit: not run" in lenient.stdout

    strict = audit(closed, CALLASTAR_AUDIT_REQUIRED="1")
    assert strict.returncode == 1
    assert "the dependency audit failed" in strict.stderr
