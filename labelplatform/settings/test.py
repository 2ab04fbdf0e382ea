"""The test suite: fast password hashing, media in a temporary folder per run, the tests'
tiny backbone."""

import tempfile
from pathlib import Path

from labelplatform.settings.base import *  # noqa: F403
from labelplatform.settings.base import CLASSIFIER_EXTRA_BACKBONES, STORAGES, env

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECRET_KEY = (
    env("SECRET_KEY", default="") or "labelplatform-tests-only-key-never-used-elsewhere-0123"
)
# The tests' small random backbone (tests/classifier/tiny_backbone.py), for the workers they
# start as much as for the test process.
CLASSIFIER_EXTRA_BACKBONES = {
    "tiny": "tests.classifier.tiny_backbone.load",
    **CLASSIFIER_EXTRA_BACKBONES,
}
# Made only when not given: the workers the tests start are given the test process's folders.
MEDIA_ROOT = env("MEDIA_ROOT", default="") or tempfile.mkdtemp(prefix="labelplatform-test-media-")
if STORAGES["default"]["BACKEND"].endswith("FileSystemStorage"):
    STORAGES["default"]["OPTIONS"]["location"] = MEDIA_ROOT
# Converted backbone weights: never var/weights in the checkout (the test command passes one
# folder for its whole run, see scripts/test.py).
CLASSIFIER_WEIGHTS_DIR = env("CLASSIFIER_WEIGHTS_DIR", default="") or tempfile.mkdtemp(
    prefix="labelplatform-test-weights-"
)
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
# Tests run without collectstatic: whitenoise serves static files from the apps' folders
# (as with DEBUG) instead of warning on every request that STATIC_ROOT does not exist.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not SQLite's shared-cache memory database: that one reports "table is locked"
    # at once instead of waiting, and the concurrency tests need real locking.
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": env("SQLITE_TEST_NAME", default=str(Path(MEDIA_ROOT) / "test.sqlite3"))
    }
