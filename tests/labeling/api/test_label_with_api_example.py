"""docs/examples/label_with_api.py, run as a user would run it, against a live server: it
gets a token, labels the images it can decide and skips the others, so it cannot rot."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.authtoken.models import Token

from labeling.models import Annotation, ImageSkip
from tests.factories import ImageFactory

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "label_with_api.py"


@pytest.fixture(autouse=True)
def _transactional(transactional_db):
    """The live server answers from another thread: test data must be committed."""


def run_example(live_server, project, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, EXAMPLE, "--url", live_server.url, "--project", str(project.pk), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_labels_what_it_can_decide_and_skips_the_rest(live_server, project, annotator):
    named_coffee = ImageFactory(project=project, original_name="coffee_0042.png")
    named_other = ImageFactory(project=project, original_name="other_7.png")
    unnamed = ImageFactory(project=project, original_name="IMG_1234.png")

    done = run_example(
        live_server, project, "--username", annotator.username, LABEL_PLATFORM_PASSWORD="password"
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "2 labeled, 1 skipped"
    labels = dict(
        Annotation.objects.filter(user=annotator).values_list("image_id", "label_class__name")
    )
    assert labels == {named_coffee.pk: "coffee", named_other.pk: "other"}
    assert list(ImageSkip.objects.filter(user=annotator).values_list("image_id", flat=True)) == [
        unnamed.pk
    ]


def test_a_second_run_finds_nothing_left(live_server, project, annotator):
    ImageFactory(project=project, original_name="IMG_1.png")
    token = Token.objects.create(user=annotator).key
    first = run_example(live_server, project, LABEL_PLATFORM_TOKEN=token)
    again = run_example(live_server, project, LABEL_PLATFORM_TOKEN=token)
    assert first.stdout.splitlines()[-1] == "0 labeled, 1 skipped"
    assert again.stdout.splitlines() == ["0 labeled, 0 skipped"]


def test_a_wrong_token_fails_the_run(live_server, project, annotator):
    ImageFactory(project=project)
    done = run_example(live_server, project, LABEL_PLATFORM_TOKEN="not-a-token")
    assert done.returncode != 0
    assert "401" in done.stderr
