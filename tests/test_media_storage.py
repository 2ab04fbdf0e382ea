"""MediaFileSystemStorage: Django's FileSystemStorage, with writes that are all or nothing."""

import errno
import os
import stat

import pytest
from django.core.files.base import ContentFile

from labelplatform.media_storage import MediaFileSystemStorage
from tests.labeling.storage_faults import DiskFillsUpStorage, files_below


def test_a_taken_name_gets_another_and_both_files_are_whole(tmp_path):
    storage = MediaFileSystemStorage(location=tmp_path)

    first = storage.save("images/cup.jpg", ContentFile(b"first"))
    second = storage.save("images/cup.jpg", ContentFile(b"second"))

    assert first == "images/cup.jpg" and second != first and second.startswith("images/cup_")
    assert (tmp_path / first).read_bytes() == b"first"
    assert (tmp_path / second).read_bytes() == b"second"
    assert files_below(tmp_path) == sorted([first, second])


def test_files_get_the_permissions_django_would_give_them(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)

    def mode_of(storage, name):
        return stat.S_IMODE((tmp_path / storage.save(name, ContentFile(b"x"))).stat().st_mode)

    assert mode_of(MediaFileSystemStorage(location=tmp_path), "a.txt") == 0o666 & ~umask
    configured = MediaFileSystemStorage(location=tmp_path, file_permissions_mode=0o640)
    assert mode_of(configured, "b.txt") == 0o640


def test_a_write_cut_short_leaves_no_file_at_all(tmp_path):
    storage = DiskFillsUpStorage(location=tmp_path, saves_before_failure=0)

    with pytest.raises(OSError) as failed:
        storage.save("images/cup.jpg", ContentFile(b"x" * 10_000))

    assert failed.value.errno == errno.ENOSPC
    assert files_below(tmp_path) == []  # neither half the file nor the temporary one
