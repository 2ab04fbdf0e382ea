"""Storages that fail as a full disk does: a simulated one anywhere, a real full tmpfs as root.

A real "no space left on device" needs a filesystem that can fill up: a small tmpfs, which only
root (or a process allowed to mount) can make. Where that is not possible, DiskFillsUpStorage
fails the same way at a chosen save: half of the file's bytes reach the disk through
MediaFileSystemStorage's own write loop, then the write raises OSError(ENOSPC).
"""

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.files.base import ContentFile

from labeling.models import Image
from labelplatform.media_storage import MediaFileSystemStorage

# What each file not stored is reported with (labelplatform.media_storage.StorageFailure).
FULL = "not stored: the server's storage is full; try again later"
UNAVAILABLE = "not stored: the server could not write to its storage; try again later"


class _HalfThenFails(ContentFile):
    def __init__(self, content, error_number: int):
        super().__init__(content.read())
        self.error_number = error_number

    def chunks(self, chunk_size=None):
        data = self.file.getvalue()
        yield data[: len(data) // 2]
        raise OSError(self.error_number, os.strerror(self.error_number))


class DiskFillsUpStorage(MediaFileSystemStorage):
    """The media storage on a disk with room for `saves_before_failure` files; every later
    save fails halfway through with `error_number` (ENOSPC: the disk is full)."""

    def __init__(self, *, saves_before_failure: int, error_number: int = errno.ENOSPC, **options):
        super().__init__(**options)
        self.saves_before_failure = saves_before_failure
        self.error_number = error_number
        self.saves = 0

    def _save(self, name, content):
        self.saves += 1
        if self.saves > self.saves_before_failure:
            content = _HalfThenFails(content, self.error_number)
        return super()._save(name, content)


def storages_failing_after(media_root: Path, saves: int, error_number: int = errno.ENOSPC):
    """A STORAGES "default" entry for DiskFillsUpStorage in `media_root`."""
    return {
        "BACKEND": "tests.labeling.storage_faults.DiskFillsUpStorage",
        "OPTIONS": {
            "location": str(media_root),
            "base_url": "/media/",
            "saves_before_failure": saves,
            "error_number": error_number,
        },
    }


def files_below(root: Path) -> list[str]:
    """Every file under `root`, hidden ones too (a leftover temporary file counts)."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def stored_files_of(*images: Image) -> list[str]:
    """The files the rows point to, as files_below() lists them."""
    return sorted(name for image in images for name in (image.file.name, image.thumbnail.name))


@contextmanager
def small_tmpfs(mountpoint: Path, *, kilobytes: int) -> Iterator[Path]:
    """A tmpfs of that size mounted at `mountpoint` (created); unmounted after.

    Raises PermissionError with the reason when this process may not mount (not root, or a
    container without CAP_SYS_ADMIN).
    """
    mountpoint.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount") or "/bin/mount"
    if os.geteuid() != 0:
        raise PermissionError("mounting a tmpfs needs root")
    mounted = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={kilobytes}k,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        raise PermissionError(f"mount -t tmpfs failed: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        umount = shutil.which("umount") or "/bin/umount"
        if subprocess.run([umount, str(mountpoint)], capture_output=True).returncode != 0:
            # Busy: a file a failed test left open. Detached now, freed once it is closed.
            subprocess.run([umount, "-l", str(mountpoint)], check=True)
