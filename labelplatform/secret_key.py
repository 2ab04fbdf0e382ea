"""The local install's secret key: generated once, kept in a file only its owner reads.

A key written in the settings is published with the repository: anyone could sign sessions
and password-reset links for an install that runs on it. `make run` and `manage.py` (the
local settings) without SECRET_KEY in the environment use this file instead (var/secret-key
by default, SECRET_KEY_FILE to move it), created on the first start with mode 0600.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path


def secret_key_kept_in(path: Path) -> str:
    """The key stored at `path`, generated (50+ random characters, mode 0600) if there is
    none. Two processes starting together agree: only one creates the file (O_EXCL), the
    other reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # the creator may not have written it yet
            key = path.read_text().strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it and start again") from None
    key = secrets.token_urlsafe(50)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
