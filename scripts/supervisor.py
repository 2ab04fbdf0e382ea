"""Process supervision for the run command (scripts/run.py): the children it starts, each in its
own process group with its output prefixed by its name, and how they are stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------------------------
# Output: one line per record, prefixed with the process name (like foreman)
# ----------------------------------------------------------------------------------------------
COLORS = ["36", "33", "32", "35", "34", "31"]


class Console:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # never taken in a signal handler (it is not reentrant)
        self._colors: dict[str, str] = {}
        self._use_color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        self.width = 10

    def line(self, name: str, text: str) -> None:
        if name not in self._colors:
            self._colors[name] = COLORS[len(self._colors) % len(COLORS)]
        prefix = f"{time.strftime('%H:%M:%S')} {name:<{self.width}} |"
        if self._use_color:
            prefix = f"\033[{self._colors[name]}m{prefix}\033[0m"
        with self._lock:
            sys.stdout.write(f"{prefix} {text}\n")
            sys.stdout.flush()

    def say(self, text: str) -> None:
        for text_line in text.splitlines() or [""]:
            self.line("run", text_line)


console = Console()


# ----------------------------------------------------------------------------------------------
# Children: each in its own session (process group), so a signal reaches its grandchildren and
# Ctrl-C in the terminal reaches only this supervisor, which then stops them in order.
# ----------------------------------------------------------------------------------------------
@dataclass
class Child:
    name: str
    process: subprocess.Popen
    reader: threading.Thread = field(repr=False)

    @property
    def group_alive(self) -> bool:
        try:
            os.killpg(self.process.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


def child_start(name: str, command: list[str], env: dict[str, str]) -> Child:
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def forward_output() -> None:
        assert process.stdout is not None
        for raw in iter(process.stdout.readline, b""):
            console.line(name, raw.decode(errors="replace").rstrip())
        process.stdout.close()

    reader = threading.Thread(target=forward_output, name=f"output-{name}", daemon=True)
    reader.start()
    return Child(name=name, process=process, reader=reader)


class StopRequest:
    """Set by SIGINT/SIGTERM. The first asks for a clean stop, a second one for killing now."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.urgent = threading.Event()
        self.signal_name = ""

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)
        signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum: int, _frame: object) -> None:
        # Only set flags here: printing could deadlock on the console lock held by main.
        if self.requested.is_set():
            self.urgent.set()
        else:
            self.signal_name = signal.Signals(signum).name
            self.requested.set()


def children_stop(children: list[Child], stop: StopRequest, *, timeout: float) -> None:
    """SIGTERM each group, wait up to `timeout` for every member to exit, then SIGKILL."""
    alive = [child for child in children if child.group_alive or child.process.poll() is None]
    for child in alive:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive and time.monotonic() < deadline and not stop.urgent.is_set():
        time.sleep(0.1)
        for child in alive:
            child.process.poll()  # reap the leader so its group can empty
        alive = [child for child in alive if child.group_alive]
    for child in alive:
        reason = "asked twice" if stop.urgent.is_set() else f"still running after {timeout:.0f} s"
        console.say(f"Killing {child.name} ({reason})")
        child.signal_group(signal.SIGKILL)
    for child in children:
        try:
            child.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            console.say(f"{child.name} (pid {child.process.pid}) is still there after SIGKILL")
        child.reader.join(timeout=2)
