"""The Jobs pages: training runs and prediction jobs with live progress, errors, workers;
the Retrain and Cancel buttons."""

import time

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from classifier.models import JobStatus, TrainingRun
from classifier.services import BROKER_UNREACHABLE_NOTE
from labeling.models import LabelStatus
from tests.classifier.factories import PredictionJobFactory, TrainingRunFactory
from tests.factories import ImageFactory, ProjectFactory
from tests.support.responses import messages_of


def jobs_url(project) -> str:
    return reverse("classifier:project-jobs", args=[project.pk])


def row_of(content: str, marker: str) -> str:
    return content.split(marker)[1].split("</tr>")[0]


def test_the_jobs_page_lists_runs_and_prediction_jobs_with_their_progress(
    client, viewer, project, jobs
):
    client.force_login(viewer)
    response = client.get(jobs_url(project))
    content = response.content.decode()
    assert response.status_code == 200
    running = row_of(content, f'data-run="{jobs["running"].pk}"')
    assert "Running" in running
    assert 'aria-valuenow="72"' in running and "width: 72%" in running
    assert "Training · epoch 7" in running and "(max 200)" in running
    predicting = row_of(content, f'data-job="{jobs["predicting"].pk}"')
    assert "128 / 500 images" in predicting and "width: 25%" in predicting
    assert "Re-prediction after activation" in predicting


def test_a_failed_run_shows_its_error(client, viewer, project, jobs):
    client.force_login(viewer)
    content = client.get(jobs_url(project)).content.decode()
    failed = row_of(content, f'data-run="{jobs["failed"].pk}"')
    assert "Failed" in failed
    assert "MemoryError: the worker ran out of memory while embedding" in failed


def test_a_job_the_broker_never_got_says_so(client, viewer, project):
    run = TrainingRunFactory(
        project=project,
        status=JobStatus.QUEUED,
        dispatch_error=BROKER_UNREACHABLE_NOTE.format(error="Connection refused"),
    )
    client.force_login(viewer)
    content = client.get(jobs_url(project)).content.decode()
    row = row_of(content, f'data-run="{run.pk}"')
    assert "not sent to a worker yet" in row
    assert "Connection refused" in row


def test_the_lists_poll_every_second_while_a_job_is_unfinished(client, viewer, project, jobs):
    client.force_login(viewer)
    response = client.get(reverse("classifier:project-jobs-fragment", args=[project.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert content.lstrip().startswith('<div id="jobs"') or 'id="jobs"' in content[:400]
    assert 'hx-trigger="every 1s"' in content
    assert "<html" not in content  # a fragment, not a page


def test_the_lists_poll_slowly_once_every_job_is_finished(client, viewer, project, versions):
    PredictionJobFactory(model_version=versions[2], status=JobStatus.SUCCEEDED, progress=100)
    client.force_login(viewer)
    content = client.get(jobs_url(project)).content.decode()
    assert 'hx-trigger="every 10s"' in content
    assert 'hx-trigger="every 1s"' not in content


def test_unfinished_jobs_are_listed_however_many_finished_ones_are_newer(
    client, viewer, project, versions
):
    old = PredictionJobFactory(model_version=versions[2], status=JobStatus.QUEUED)
    for _ in range(25):
        PredictionJobFactory(model_version=versions[2], status=JobStatus.SUCCEEDED)
    client.force_login(viewer)
    listed = client.get(jobs_url(project)).context["prediction_jobs"]
    assert listed[0] == old
    assert len(listed) == 21  # the unfinished one and the 20 newest finished


def test_a_run_finishing_while_the_page_reads_is_listed_once(client, viewer, project):
    run = TrainingRunFactory(project=project, status=JobStatus.RUNNING)

    def finish_after_the_unfinished_read(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "classifier_trainingrun" in sql and run.status == JobStatus.RUNNING:
            run.status = JobStatus.SUCCEEDED  # as a worker would, between the page's two reads
            TrainingRun.objects.filter(pk=run.pk).update(status=JobStatus.SUCCEEDED)
        return result

    client.force_login(viewer)
    with connection.execute_wrapper(finish_after_the_unfinished_read):
        listed = client.get(jobs_url(project)).context["training_runs"]

    assert [job.pk for job in listed] == [run.pk]


def test_the_jobs_pages_cost_a_fixed_number_of_queries(
    client, owner, project, jobs, versions, django_assert_num_queries
):
    client.force_login(owner)
    urls = [jobs_url(project), reverse("classifier:project-jobs-fragment", args=[project.pk])]
    for url in urls:
        client.get(url)
        # session, user, project, role, then unfinished and finished of each kind (training
        # runs, prediction jobs, health checks)
        with django_assert_num_queries(10):
            client.get(url)
    for _ in range(10):
        PredictionJobFactory(model_version=versions[2], status=JobStatus.SUCCEEDED)
        TrainingRunFactory(project=project, status=JobStatus.FAILED, error="x")
    for url in urls:
        with django_assert_num_queries(10):
            client.get(url)


def test_the_global_jobs_page_lists_the_users_projects_only(client, owner, project, jobs):
    elsewhere = ProjectFactory(name="Birds")
    hidden = TrainingRunFactory(project=elsewhere, status=JobStatus.FAILED)
    client.force_login(owner)
    response = client.get(reverse("classifier:jobs"))
    runs = response.context["training_runs"]
    assert jobs["running"] in runs and hidden not in runs
    assert "Birds" not in response.content.decode()


def test_the_global_jobs_page_lists_every_project_for_staff(client, staff, project, jobs):
    elsewhere = ProjectFactory(name="Birds")
    other = TrainingRunFactory(project=elsewhere, status=JobStatus.FAILED)
    client.force_login(staff)
    response = client.get(reverse("classifier:jobs"))
    assert {jobs["running"], other} <= set(response.context["training_runs"])
    assert response.status_code == 200
    fragment = client.get(reverse("classifier:jobs-fragment"))
    assert fragment.status_code == 200 and "Birds" in fragment.content.decode()


def test_the_global_jobs_page_costs_a_fixed_number_of_queries(
    client, staff, project, jobs, django_assert_num_queries
):
    client.force_login(staff)
    client.get(reverse("classifier:jobs"))
    with django_assert_num_queries(8):  # session, user, then unfinished and finished of each
        client.get(reverse("classifier:jobs"))


# --- Workers -------------------------------------------------------------------------------


def test_with_no_broker_the_workers_panel_says_no_workers_quickly(
    client, viewer, project, broker_down
):
    client.force_login(viewer)
    started = time.monotonic()
    response = client.get(reverse("classifier:project-workers", args=[project.pk]))
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    assert "No workers online." in response.content.decode()


def test_the_jobs_page_itself_never_waits_for_the_workers(client, viewer, project, broker_down):
    """The page renders at once; the workers panel comes in its own request."""
    client.force_login(viewer)
    content = client.get(jobs_url(project)).content.decode()
    assert f'hx-get="{reverse("classifier:project-workers", args=[project.pk])}"' in content
    assert 'hx-trigger="load"' in content


def test_a_worker_busy_with_a_job_is_listed_even_though_it_cannot_answer(
    client, viewer, project, jobs, broker_down
):
    """A solo-pool worker answers no broadcast while it runs a job; its heartbeat shows it."""
    client.force_login(viewer)
    content = client.get(reverse("classifier:project-workers", args=[project.pk])).content.decode()
    assert 'data-hostname="training@host"' in content
    assert f"training run #{jobs['running'].pk} of Coffee (72%)" in content
    assert "No workers online." not in content


def test_a_busy_worker_of_another_project_keeps_that_project_hidden(
    client, viewer, project, broker_down
):
    TrainingRunFactory(
        project=ProjectFactory(name="Secret birds"),
        status=JobStatus.RUNNING,
        worker="training@elsewhere",
        heartbeat_at=timezone.now(),
    )
    client.force_login(viewer)
    content = client.get(reverse("classifier:project-workers", args=[project.pk])).content.decode()
    assert "training@elsewhere" in content
    assert "running a job of another project" in content
    assert "Secret birds" not in content


def test_a_silent_running_job_does_not_make_its_worker_look_online(
    client, viewer, project, broker_down
):
    TrainingRunFactory(
        project=project,
        status=JobStatus.RUNNING,
        worker="training@dead",
        heartbeat_at=timezone.now() - timezone.timedelta(hours=1),
    )
    client.force_login(viewer)
    content = client.get(reverse("classifier:project-workers", args=[project.pk])).content.decode()
    assert "training@dead" not in content
    assert "No workers online." in content


# --- Retrain and cancel --------------------------------------------------------------------


@pytest.fixture
def trainable(project):
    """The project with labeled images of both classes in every split."""
    for split, count in (("train", 2), ("validation", 1), ("test", 1)):
        for label_class in project.classes.all():
            for _ in range(count):
                ImageFactory(
                    project=project,
                    split=split,
                    label=label_class,
                    label_status=LabelStatus.LABELED,
                )
    return project


def test_retrain_queues_a_run_and_goes_to_the_jobs_page(client, owner, trainable):
    client.force_login(owner)
    response = client.post(reverse("classifier:project-retrain", args=[trainable.pk]))
    run = TrainingRun.objects.get(project=trainable)
    assert run.status == JobStatus.QUEUED and run.requested_by == owner
    assert response.status_code == 302 and response.url == jobs_url(trainable)
    assert f"Retraining queued as run #{run.pk}" in messages_of(response)[0]


def test_retrain_while_a_run_is_under_way_returns_that_run(client, owner, trainable):
    client.force_login(owner)
    client.post(reverse("classifier:project-retrain", args=[trainable.pk]))
    response = client.post(reverse("classifier:project-retrain", args=[trainable.pk]))
    assert TrainingRun.objects.filter(project=trainable).count() == 1
    assert "already queued" in messages_of(response)[-1]


def test_retrain_without_enough_labels_says_why_and_queues_nothing(client, owner, project):
    client.force_login(owner)
    dashboard = reverse("labeling:project-dashboard", args=[project.pk])
    response = client.post(
        reverse("classifier:project-retrain", args=[project.pk]), {"next": dashboard}
    )
    assert not TrainingRun.objects.exists()
    assert response.url == dashboard
    assert "needs labeled training images" in messages_of(response)[0]


def test_retrain_with_the_broker_down_shows_the_run_queued_and_why(
    client, owner, trainable, broker_down, django_capture_on_commit_callbacks
):
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("classifier:project-retrain", args=[trainable.pk]))
    run = TrainingRun.objects.get(project=trainable)
    assert run.status == JobStatus.QUEUED and run.dispatch_error
    content = client.get(jobs_url(trainable)).content.decode()
    assert "not sent to a worker yet" in row_of(content, f'data-run="{run.pk}"')


def test_an_owner_cancels_a_queued_run(client, owner, project):
    run = TrainingRunFactory(project=project, status=JobStatus.QUEUED)
    client.force_login(owner)
    response = client.post(reverse("classifier:training-run-cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == JobStatus.CANCELLED
    assert response.url == jobs_url(project)


def test_owners_see_retrain_and_cancel_on_the_jobs_page_and_viewers_do_not(
    client, owner, viewer, project, jobs
):
    client.force_login(owner)
    content = client.get(jobs_url(project)).content.decode()
    assert 'id="retrain-button"' in content
    assert reverse("classifier:training-run-cancel", args=[jobs["running"].pk]) in content
    client.force_login(viewer)
    content = client.get(jobs_url(project)).content.decode()
    assert 'id="retrain-button"' not in content
    assert reverse("classifier:training-run-cancel", args=[jobs["running"].pk]) not in content


@pytest.mark.django_db(transaction=True)
def test_retrain_with_the_broker_down_says_so_at_once(client, owner, trainable, broker_down):
    """Committed for real, so the message is sent (and fails) inside the request."""
    client.force_login(owner)
    response = client.post(reverse("classifier:project-retrain", args=[trainable.pk]))
    texts = messages_of(response)
    assert texts[0].startswith("Retraining queued as run #")
    assert "could not be reached" in texts[1]
