"""Where the tests and benchmarks find the coffee-or-not photos: COFFEE_OR_NOT_DIR, else
../shared/data/coffee-or-not beside the checkout (or beside the main checkout of a git
worktree); missing photos skip the tests here and fail them under CI=true."""

from pathlib import Path

import pytest

from tests.support import coffee_or_not


def photo_folder(root: Path) -> Path:
    for label in coffee_or_not.CLASS_NAMES:
        (root / label).mkdir(parents=True)
    return root


@pytest.fixture
def checkout(tmp_path, monkeypatch) -> Path:
    """A checkout at <tmp>/projects/labelplatform, COFFEE_OR_NOT_DIR unset, CI unset."""
    root = tmp_path / "projects" / "labelplatform"
    (root / ".git").mkdir(parents=True)
    monkeypatch.setattr(coffee_or_not, "REPOSITORY", root)
    monkeypatch.delenv(coffee_or_not.VARIABLE, raising=False)
    monkeypatch.delenv("CI", raising=False)
    return root


def test_by_default_the_photos_are_beside_the_checkout(checkout):
    photos = photo_folder(checkout.parent / "shared" / "data" / "coffee-or-not")

    assert coffee_or_not.data_dir() == photos


def test_a_git_worktree_also_looks_beside_the_main_checkout(tmp_path, monkeypatch):
    main = tmp_path / "work" / "main"
    worktree_git = main / ".git" / "worktrees" / "testing"
    worktree_git.mkdir(parents=True)
    (worktree_git / "commondir").write_text("../..\n")
    worktree = tmp_path / "work" / "wt" / "testing"
    worktree.mkdir(parents=True)
    (worktree / ".git").write_text(f"gitdir: {worktree_git}\n")
    monkeypatch.setattr(coffee_or_not, "REPOSITORY", worktree)
    monkeypatch.delenv(coffee_or_not.VARIABLE, raising=False)
    photos = photo_folder(tmp_path / "work" / "shared" / "data" / "coffee-or-not")

    assert coffee_or_not.data_dir() == photos


def test_the_variable_wins_and_a_relative_one_is_read_from_the_repository_root(
    checkout, monkeypatch
):
    photo_folder(checkout.parent / "shared" / "data" / "coffee-or-not")
    elsewhere = photo_folder(checkout / "photos")
    monkeypatch.setenv(coffee_or_not.VARIABLE, "photos")

    assert coffee_or_not.data_dir() == elsewhere


def test_missing_photos_skip_with_how_to_point_at_them(checkout, monkeypatch):
    monkeypatch.setenv(coffee_or_not.VARIABLE, "/nowhere/coffee-or-not")

    with pytest.raises(pytest.skip.Exception, match="COFFEE_OR_NOT_DIR") as skipped:
        coffee_or_not.data_dir_or_not_available(what="quality test")
    assert "/nowhere/coffee-or-not" in str(skipped.value)


def test_missing_photos_fail_under_ci(checkout, monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(pytest.fail.Exception, match="CI=true, so the quality test fails"):
        coffee_or_not.data_dir_or_not_available(what="quality test")
