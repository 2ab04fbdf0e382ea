"""A real S3-compatible server for the tests: moto in server mode, its own process on a
loopback port (MinIO is what compose runs; neither has to be mocked inside the test process)."""

import contextlib
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[int]:
    """Start `python -m moto.server` on 127.0.0.1; yield its port once it answers."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def moto_enforce_credentials(port: int) -> None:
    """From now on the server checks every request's signature against the IAM users' keys
    and their policies, as S3 (and MinIO) do; until then moto accepts any credentials."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/moto-api/reset-auth",
        data=b"0",  # the number of requests still allowed without checking
        method="POST",
        headers={"Content-Type": "text/plain"},  # moto reads the raw body
    )
    urllib.request.urlopen(request, timeout=10).close()
