"""The database guarantees: one unfinished run and one active version per project."""

import pytest
from django.db import IntegrityError, transaction

from classifier.models import JobStatus, ModelVersionStatus
from tests.classifier.factories import ModelVersionFactory, TrainingRunFactory
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_a_second_unfinished_training_run_in_a_project_is_refused(project):
    TrainingRunFactory(project=project, status=JobStatus.QUEUED)
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRunFactory(project=project, status=JobStatus.RUNNING)


def test_finished_runs_do_not_count_against_the_one_unfinished_run(project):
    TrainingRunFactory(project=project, status=JobStatus.FAILED)
    TrainingRunFactory(project=project, status=JobStatus.SUCCEEDED)
    TrainingRunFactory(project=project, status=JobStatus.QUEUED)
    TrainingRunFactory(project=ProjectFactory(), status=JobStatus.QUEUED)


def test_a_second_active_version_in_a_project_is_refused(project):
    ModelVersionFactory(project=project, version=1, status=ModelVersionStatus.ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(project=project, version=2, status=ModelVersionStatus.ACTIVE)


def test_version_numbers_are_unique_per_project(project):
    ModelVersionFactory(project=project, version=1)
    ModelVersionFactory(project=ProjectFactory(), version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(project=project, version=1)
