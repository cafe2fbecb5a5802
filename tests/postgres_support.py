"""A real PostgreSQL server for the vote-store tests: Debian's `postgresql` package (the README's
test command installs it), started from a throwaway data folder on a loopback port and stopped
at the end of the session. As root, the server runs as the `postgres` user, as PostgreSQL requires."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa


def postgres_bin() -> Path | None:
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if installed:
        return installed[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PostgresServer:
    bin_dir: Path
    root: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = f"jeval_{uuid.uuid4().hex[:12]}"
        engine = sa.create_engine(f"{self.url}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return f"{self.url}/{name}"

    def _pg(self, tool: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run([*self.as_user, str(self.bin_dir / tool), *args], capture_output=True, text=True,
                              timeout=120, **kwargs)

    def start(self) -> None:
        data = self.root / "data"
        done = self._pg("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr[-2000:]}")
        done = self._pg("pg_ctl", "-D", str(data), "-l", str(self.root / "server.log"), "-w", "start",
                        "-o", f"-k {self.root} -p {self.port} -h 127.0.0.1 -F")
        if done.returncode:
            log = (self.root / "server.log").read_text(errors="replace") if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr[-1000:]} {log[-2000:]}")
        deadline = time.monotonic() + 60
        while True:
            try:
                engine = sa.create_engine(f"{self.url}/postgres")
                with engine.connect():
                    pass
                engine.dispose()
                return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_postgres(bin_dir: Path) -> PostgresServer:
    root = Path(tempfile.mkdtemp(prefix="jeval-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    server = PostgresServer(bin_dir, root, _free_port(), as_user)
    server.start()
    return server
