"""What the run command tells the user once the platform is up: the box with the URL and the admin
account, printed when the web server answers and again when the workers do (their start-up
lines would otherwise scroll the first box, and the password in it, out of sight).
"""

from __future__ import annotations

import threading

from scripts.admin_account import AdminAccount, path_shown

PING_TIMEOUT_SECONDS = 1.0


def workers_wait_until_ready(broker_url: str, names: set[str], done: threading.Event) -> bool:
    """Ping the Celery workers until each of `names` answers; False when `done` is set first.

    A worker answers once its model is loaded and it takes jobs. Celery's own control API,
    the same ping `celery inspect ping` sends.
    """
    from celery import Celery
    from kombu.exceptions import OperationalError

    app = Celery(broker=broker_url, set_as_current=False)
    try:
        while not done.is_set():
            try:
                replies = app.control.ping(timeout=PING_TIMEOUT_SECONDS)
            except OperationalError:  # the broker is not answering (yet): ask again
                done.wait(PING_TIMEOUT_SECONDS)
                continue
            if names <= {node.split("@")[0] for reply in replies or [] for node in reply}:
                return True
        return False
    finally:
        app.close()


def banner(
    *,
    port: int,
    admin: AdminAccount | None,
    broker: str,
    workers: set[str],
    workers_ready: bool,
) -> str:
    """The box with the URL and the admin account, printed when the web server answers and
    again when the workers do (their start-up lines would have scrolled the first one away)."""
    lines = []
    if workers_ready:
        names = ", ".join(sorted(workers))
        lines.append(f"Ready: the web server and the workers ({names}) are up.")
    lines.append(f"The platform is running at http://127.0.0.1:{port}/")
    if admin is not None:
        if admin.password is not None:
            account = f"Admin account: username {admin.username}  password {admin.password}"
        elif admin.password_file is not None:
            account = f"Admin account: username {admin.username}, password in the file below"
        else:
            account = f"Admin account: username {admin.username}"
        lines += [account, f"  ({admin.note})"]
        if admin.password_file is not None:
            shown = path_shown(admin.password_file)
            lines.append(f"  Password file: {shown} (readable by you only)")
    lines.append(f"Broker: {broker}")
    if not workers_ready:
        lines.append("Workers: loading the model; this box is shown again when they are ready.")
    lines.append("Stop with Ctrl-C.")
    width = max(len(line) for line in lines) + 4
    rule = "=" * width
    return "\n".join([rule, *(f"  {line}" for line in lines), rule])
