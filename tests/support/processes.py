"""Child processes of the tests: free ports, waiting for a condition, dying with the tests."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A loopback TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(
    condition: Callable[[], T], *, timeout: float, interval: float = 0.2, message: str = ""
) -> T:
    """Poll `condition()` until it returns something true (returned); AssertionError after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout} s waiting for {message or condition}")


def die_with_parent() -> None:
    """A Popen `preexec_fn`: Linux SIGTERMs the child when the test process dies, even killed
    without teardown, so no stray worker or server outlives the tests."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def process_stop(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
