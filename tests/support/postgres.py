"""A PostgreSQL server of one's own, to stop and start under a running platform.

The machine's shared PostgreSQL cannot be restarted by a test; this one can. `initdb` makes a
throwaway cluster in a temporary folder, served on a free loopback port (and a unix socket in
that folder, never the system's). PostgreSQL refuses to run as root, so when this process is
root the server's commands run as the `postgres` user (runuser, or setpriv where runuser is
missing).

Used by tests/deploy/test_database_restart.py and bench/database_restart.py.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import free_port


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl (Debian's
    layout), or the folder of an initdb on PATH; None when there is none."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def _run_as_prefix() -> tuple[list[str], str | None]:
    """(command prefix, user) to run the server's commands as a non-root user."""
    if os.geteuid() != 0:
        return [], None
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            "running as root and there is no postgres user to run PostgreSQL as"
        ) from None
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", "postgres", "--"], "postgres"
    if setpriv := shutil.which("setpriv"):
        return [setpriv, "--reuid=postgres", "--regid=postgres", "--init-groups"], "postgres"
    raise RuntimeError("running as root and neither runuser nor setpriv is there")


@dataclass
class PrivatePostgres:
    """A cluster in its own folder. create() once, then start() and stop() at will;
    destroy() stops it and deletes the folder."""

    bin_dir: Path
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="labelplatform-pg-")))

    def __post_init__(self) -> None:
        self.run_as, self.user = _run_as_prefix()

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*self.run_as, str(self.bin_dir / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.folder,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{command[0]} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
                f"\n{self.log()[-3000:]}"
            )
        return result

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def create(self) -> PrivatePostgres:
        if self.user:
            record = pwd.getpwnam(self.user)
            os.chown(self.folder, record.pw_uid, record.pw_gid)
        self._run(
            "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(
                f"port = {self.port}\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.folder}'\n"
                # A throwaway cluster: no need to survive a power cut, so no fsync.
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        return self

    def start(self) -> None:
        """Start and wait until it accepts connections (pg_ctl -w)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: "fast" ends every session at once (a clean shutdown), "immediate"
        quits without one (as a crash would; recovery runs at the next start)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        status = subprocess.run(
            [*self.run_as, str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "status"],
            capture_output=True,
        )
        return status.returncode == 0

    def destroy(self) -> None:
        if self.data_dir.exists() and self.running():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
