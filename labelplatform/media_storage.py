"""Writing media (images, thumbnails) safely, and telling a storage failure when one happens.

- `MediaFileSystemStorage`, the local backend (MEDIA_ROOT): Django's FileSystemStorage streams
  a file into its final path, so a write cut short (the disk fills up, ENOSPC) leaves a
  truncated file under the very name a row would point to, with nothing to delete it. This one
  writes into a hidden temporary file beside it and links it into place only when complete:
  a failed write leaves nothing, and a reader never sees half a file.
- `storage_failure(error)`: whether an exception raised by a storage's save() is the storage
  failing (disk full, read-only, S3 unreachable or refusing) rather than a bug, and what to tell
  the user. Both backends are covered: the local one raises OSError, django-storages' S3
  backend raises botocore's errors.
"""

import errno
import os
import secrets
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import FileSystemStorage
from django.utils._os import safe_makedirs  # type: ignore[attr-defined]  # FileSystemStorage's own

# Error codes of S3-compatible stores that mean "out of space or over quota" (MinIO names its
# own; AWS S3 itself never fills up).
_S3_FULL_CODES = frozenset(
    {"XMinioStorageFull", "XMinioAdminBucketQuotaExceeded", "QuotaExceeded", "EntityTooLarge"}
)
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@dataclass(frozen=True)
class StorageFailure:
    """A write the storage refused: `full` when out of space, else unavailable."""

    full: bool
    cause: str  # for the logs, not for users (it may name paths, buckets or hosts)

    @property
    def message(self) -> str:
        if self.full:
            return "not stored: the server's storage is full; try again later"
        return "not stored: the server could not write to its storage; try again later"


def storage_failure(error: BaseException) -> StorageFailure | None:
    """The failure `error` stands for, or None when it is not a storage failure."""
    if isinstance(error, ClientError):
        code = str(error.response.get("Error", {}).get("Code", ""))
        return StorageFailure(full=code in _S3_FULL_CODES, cause=str(error))
    if isinstance(error, BotoCoreError):  # no answer: endpoint unreachable, timeouts, ...
        return StorageFailure(full=False, cause=str(error))
    if isinstance(error, OSError):
        return StorageFailure(full=error.errno in _FULL_ERRNOS, cause=str(error))
    return None


class MediaFileSystemStorage(FileSystemStorage):
    """FileSystemStorage whose writes are all or nothing (see the module docstring).

    Same names, permissions and create-if-absent behaviour as Django's: the temporary file is
    created like Django creates the final one (0o666 less the umask, or FILE_UPLOAD_PERMISSIONS),
    and os.link() fails if the name is taken, so a taken name gets another, as in Django.
    The media folder must support hard links, as every local POSIX filesystem does. A process
    killed mid-write leaves a hidden `.<random>.partial` file, never a truncated image.
    """

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        if self.directory_permissions_mode is not None:
            # Django's own workaround: makedirs' mode does not apply to intermediate folders.
            safe_makedirs(directory, self.directory_permissions_mode, exist_ok=True)
        else:
            os.makedirs(directory, exist_ok=True)

        temporary_path = os.path.join(directory, f".{secrets.token_hex(8)}.partial")
        fd = os.open(temporary_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as output:
                for chunk in content.chunks():
                    output.write(chunk if isinstance(chunk, bytes) else chunk.encode())
                # Closing flushes the last buffer, which may be what finds the disk full.
            if self.file_permissions_mode is not None:
                os.chmod(temporary_path, self.file_permissions_mode)
            while True:
                try:
                    os.link(temporary_path, full_path)
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    full_path = self.path(name)
        finally:
            os.unlink(temporary_path)

        self._ensure_location_group_id(full_path)
        return os.path.relpath(full_path, self.location).replace("\\", "/")
