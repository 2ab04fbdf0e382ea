"""Local development and the run command: the defaults of base.py, and a secret key generated
once per install and kept in var/secret-key (SECRET_KEY or SECRET_KEY_FILE to choose)."""

from pathlib import Path

from labelplatform.secret_key import secret_key_kept_in
from labelplatform.settings.base import *  # noqa: F403
from labelplatform.settings.base import SECRET_KEY, VAR_DIR, env

if not SECRET_KEY:
    SECRET_KEY = secret_key_kept_in(
        Path(env("SECRET_KEY_FILE", default=str(VAR_DIR / "secret-key")))
    )
