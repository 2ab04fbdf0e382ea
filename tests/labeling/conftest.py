import errno
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from tests.labeling.storage_faults import small_tmpfs, storages_failing_after
from tests.support.availability import not_available_here


@pytest.fixture
def media_root(settings, tmp_path):
    """A fresh, empty media storage for this test, so its files can be listed exactly."""
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "labelplatform.media_storage.MediaFileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }
    return root


@pytest.fixture
def stored_files(media_root):
    """A function listing every file in the (fresh) default storage, as sorted paths."""

    def list_all(path: str = "") -> list[str]:
        try:
            directories, files = default_storage.listdir(path)
        except FileNotFoundError:
            return []
        found = [f"{path}{name}" for name in files]
        for directory in directories:
            found += list_all(f"{path}{directory}/")
        return sorted(found)

    return list_all


@pytest.fixture
def disk_full_after(settings, media_root):
    """disk_full_after(saves): the media storage has room for that many files (an image is
    two: its file, then its thumbnail); the next save fails with ENOSPC (or the error number
    given) halfway through its bytes."""

    def fill_after(saves: int, error_number: int = errno.ENOSPC) -> Path:
        settings.STORAGES = {
            **settings.STORAGES,
            "default": storages_failing_after(media_root, saves, error_number),
        }
        return media_root

    return fill_after


@pytest.fixture
def small_spool(tmp_path, settings, media_root):
    """Uploads over 10 KB are spooled to a real 200 KB filesystem; needs root."""
    try:
        with small_tmpfs(tmp_path / "small-spool", kilobytes=200) as mountpoint:
            settings.FILE_UPLOAD_TEMP_DIR = str(mountpoint)
            settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10_000
            yield mountpoint
    except PermissionError as error:
        not_available_here(f"cannot make a small filesystem to fill: {error}")
