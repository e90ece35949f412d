"""PostgreSQL 15 from the machine's binaries: initdb once, pg_ctl start/stop,
one database per service with its owner and runtime roles (stack.databases;
dev passwords = role names)."""

from __future__ import annotations

import hashlib
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from stack.config import SERVICES, StackConfig
from stack.databases import ServiceDatabase, provision
from stack.prereqs import PG_BIN, PG_USER, ensure_postgres_user
from stack.procs import PidFile, Proc, StackError, log_tail, run_async, wait_until


class Postgres:
    def __init__(self, cfg: StackConfig) -> None:
        self.cfg = cfg
        self.base = cfg.state_dir / "pg"
        self.data = self.base / "data"
        self.log = cfg.logs_dir / "postgres.log"
        self.port = cfg.ports["pg"]
        sock = self.base / "socket"
        # unix socket paths are limited to ~107 bytes; fall back to /tmp for deep checkouts
        if len(str(sock / f".s.PGSQL.{self.port}")) > 100:
            digest = hashlib.sha1(str(sock).encode()).hexdigest()[:10]
            sock = Path(tempfile.gettempdir()) / f"callastar-pg-{digest}"
        self.socket_dir = sock

    # --- helpers ------------------------------------------------------------
    def _as_pg(self, args: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", PG_USER, "--", *args]
        return args

    def _run(self, args: list[str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(self._as_pg(args), capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise StackError(f"{Path(args[0]).name} failed: {(result.stderr or result.stdout).strip()}")
        return result

    def _own(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        pw = pwd.getpwnam(PG_USER)
        for path in paths:
            os.chown(path, pw.pw_uid, pw.pw_gid)

    # --- lifecycle ----------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists()

    def running(self) -> bool:
        if not self.initialized:
            return False
        return self._run([str(PG_BIN / "pg_ctl"), "status", "-D", str(self.data)], check=False).returncode == 0

    def _let_postgres_reach(self, path: Path) -> None:
        """The server runs as the postgres user, which must be able to walk down to
        its data directory; a checkout under a private folder (mktemp -d, /root)
        would stop initdb. Grant only the search bit, never listing or reading."""
        if os.geteuid() != 0:
            return
        for folder in reversed(path.parents):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(folder, mode | stat.S_IXOTH)

    def prepare(self) -> None:
        ensure_postgres_user()
        for d in (self.cfg.state_root, self.cfg.state_dir, self.cfg.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
        self._let_postgres_reach(self.cfg.state_dir)
        for d in (self.base, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755 if d == self.base else 0o775)
            self._own(d)
        self.log.touch()
        self._own(self.log)
        if not self.initialized:
            if self.data.exists():
                shutil.rmtree(self.data)  # a half-done initdb
            self._run([
                str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale",
                "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
            ])

    def clean_stale(self) -> None:
        """A killed run can leave postmaster.pid behind: remove it when no server runs."""
        pidfile = self.data / "postmaster.pid"
        if pidfile.exists() and not self.running():
            pidfile.unlink(missing_ok=True)
            for sock in self.socket_dir.glob(".s.PGSQL.*"):
                sock.unlink(missing_ok=True)

    def options(self) -> str:
        opts = [
            "-p", str(self.port), "-k", str(self.socket_dir),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "max_connections=200",
            "-c", "shared_buffers=256MB",
            "-c", "log_min_messages=warning",
        ]
        if self.cfg.profile == "test":
            # throwaway data: trade durability for speed
            opts += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        return " ".join(shlex.quote(o) for o in opts)

    def start(self, pidfile: PidFile) -> None:
        self.prepare()
        self.clean_stale()
        result = self._run(
            [str(PG_BIN / "pg_ctl"), "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "90",
             "-o", self.options()],
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"PostgreSQL did not start on port {self.port}; log {self.log}:\n{log_tail(self.log)}")
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        pidfile.add(Proc(name="postgres", pid=pid, log=str(self.log), marker="postgres"))
        wait_until(self.ready, timeout=60, what="PostgreSQL", log=self.log)
        run_async(self.bootstrap)

    def ready(self) -> bool:
        return self._run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "2"], check=False
        ).returncode == 0

    async def admin_connect(self, database: str = "postgres"):
        import asyncpg

        return await asyncpg.connect(host=str(self.socket_dir), port=self.port, user="postgres", database=database)

    async def bootstrap(self) -> None:
        conn = await self.admin_connect()
        try:
            await provision(conn, self.admin_connect, [ServiceDatabase.for_development(svc) for svc in SERVICES])
        finally:
            await conn.close()

    def stop(self, pidfile: PidFile | None = None) -> None:
        if self.running():
            self._run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w", "-t", "60"], check=False)
        if self.running():
            self._run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "immediate", "-w"], check=False)
        if pidfile is not None:
            pidfile.remove("postgres")

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
