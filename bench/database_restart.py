"""PostgreSQL restarted under traffic: how long requests fail, and how they fail.

    python bench/database_restart.py [--rounds 5] [--down 2] [--mode fast|immediate]

Starts a PostgreSQL server of its own (tests/support/postgres.py: initdb in a temporary
folder, a free port; as the postgres user when run as root) and the platform's web server on it
(harness.Stack: the run command's gunicorn, 2 processes x 4 threads, persistent health-checked
connections as in production). One client thread sends requests back to back, alternating a
page (`/`, logged in) and the API (`/api/projects/`, a token). Each round stops the server
(`pg_ctl stop -m MODE`), leaves it down `--down` seconds, starts it (`pg_ctl start -w`, which
returns once it accepts connections) and waits for both kinds of request to answer 200 again.

Per round it prints: pg_ctl start's own time; the gap after PostgreSQL is back, i.e. from
pg_ctl start returning to the first 200 of each kind (the later of the two; a request sent
before that answers 503 at once, so the gap is about one request's time); how many requests sent
after it was back did not answer 200; and every status seen in the round (a 500 would be a bug).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPOSITORY))

from harness import Stack, load_average, median, table  # noqa: E402  (bench/, as the others)

from tests.support.postgres import PrivatePostgres, postgres_bin_dir  # noqa: E402


class Client(threading.Thread):
    """Requests back to back until stopped; records when each was sent and answered."""

    def __init__(self, page_session, api_session, url: str) -> None:
        super().__init__(daemon=True)
        self.sessions = {
            "page": (page_session, f"{url}/"),
            "api": (api_session, f"{url}/api/projects/"),
        }
        self.answers: list[tuple[float, float, str, int]] = []  # sent, answered, kind, status
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            for kind, (session, url) in self.sessions.items():
                sent = time.monotonic()
                try:
                    status = session.get(url, timeout=30, allow_redirects=False).status_code
                except Exception:
                    status = 0  # no HTTP answer at all
                self.answers.append((sent, time.monotonic(), kind, status))

    def first_ok_after(self, moment: float) -> dict[str, float]:
        firsts: dict[str, float] = {}
        for _, answered, kind, status in list(self.answers):
            if answered > moment and status == 200 and kind not in firsts:
                firsts[kind] = answered
        return firsts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--down", type=float, default=2.0, help="seconds the server stays down")
    parser.add_argument("--mode", choices=["fast", "immediate"], default="fast")
    arguments = parser.parse_args()

    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        sys.exit("PostgreSQL's server binaries (initdb, pg_ctl) are missing.")
    database = PrivatePostgres(bin_dir).create()
    database.start()
    os.environ["DATABASE_URL"] = database.url()
    try:
        with Stack(workers=(), web=True) as stack:
            stack.wait_ready()
            owner = stack.owner()
            client = Client(stack.browser_session(owner), stack.api(owner), stack.url)
            client.start()
            time.sleep(1)
            rows, gaps = [], []
            for round_number in range(1, arguments.rounds + 1):
                round_started = time.monotonic()
                database.stop(arguments.mode)
                time.sleep(arguments.down)
                starting = time.monotonic()
                database.start()
                up = time.monotonic()
                deadline = up + 60
                while len(client.first_ok_after(up)) < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                firsts = client.first_ok_after(up)
                if len(firsts) < 2:
                    sys.exit(f"round {round_number}: no 200 within 60 s of the restart")
                back = max(firsts.values())
                gap_ms = (back - up) * 1000
                gaps.append(gap_ms)
                in_round = [a for a in client.answers if round_started <= a[1] <= back]
                # Sent once PostgreSQL was back, and still not answered 200.
                failed_after_up = sum(
                    1 for sent, _, _, status in in_round if sent > up and status != 200
                )
                statuses = Counter(status for *_, status in in_round)
                rows.append(
                    [
                        round_number,
                        f"{(up - starting) * 1000:.0f}",
                        f"{gap_ms:.0f}",
                        failed_after_up,
                        ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())),
                    ]
                )
                time.sleep(1)
            client.stopping.set()
            client.join(30)
            print(
                f"PostgreSQL restart under traffic (pg_ctl stop -m {arguments.mode}, down "
                f"{arguments.down:g} s); {stack.describe()}; load/CPUs {load_average()}"
            )
            print(
                table(
                    [
                        "round",
                        "pg_ctl start ms",
                        "gap after up ms",
                        "non-200 sent after up",
                        "statuses in the round",
                    ],
                    rows,
                )
            )
            print(
                f"gap after PostgreSQL is back: median {median(gaps):.0f} ms, "
                f"max {max(gaps):.0f} ms"
            )
    finally:
        database.destroy()


if __name__ == "__main__":
    main()
