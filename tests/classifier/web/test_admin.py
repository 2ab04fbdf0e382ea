"""The classifier's admin: read-only records with useful columns, Retrain buttons on the
project page and the model-version list, and the Retrain, Activate, Cancel and Predict
selected actions, all through the services."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from classifier.models import (
    Embedding,
    JobStatus,
    ModelVersionStatus,
    PredictionJob,
    PredictionJobKind,
    TrainingRun,
)
from labeling.models import LabelStatus
from tests.classifier.factories import (
    PredictionFactory,
    PredictionJobFactory,
    make_version,
)
from tests.factories import ImageFactory, ProjectFactory
from tests.support.responses import messages_of

MODELS = ["modelversion", "trainingrun", "predictionjob", "prediction", "embedding"]


@pytest.fixture
def everything(project, versions, jobs, predicted_images):
    Embedding.objects.create(sha256="ab" * 32, backbone="tiny", dim=4, vector=b"\0" * 16)
    return project


@pytest.fixture
def trainable(project):
    for split, count in (("train", 2), ("validation", 1), ("test", 1)):
        for label_class in project.classes.all():
            for _ in range(count):
                ImageFactory(
                    project=project, split=split, label=label_class,
                    label_status=LabelStatus.LABELED,
                )  # fmt: skip
    return project


def action(admin_client, model: str, name: str, ids, app: str = "classifier"):
    return admin_client.post(
        reverse(f"admin:{app}_{model}_changelist"),
        {"action": name, ACTION_CHECKBOX_NAME: [str(pk) for pk in ids]},
    )


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_loads_and_searches(admin_client, everything, model):
    url = reverse(f"admin:classifier_{model}_changelist")
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count > 0
    assert admin_client.get(url + "?q=coffee").status_code == 200


# The admin's own queries (session, user, counts, filters' choices) and one for the rows.
CHANGELIST_QUERIES = {
    "modelversion": 10,
    "trainingrun": 8,
    "predictionjob": 8,
    "prediction": 7,
    "embedding": 6,
}


@pytest.mark.parametrize("model", MODELS)
def test_every_changelist_costs_a_fixed_number_of_queries(
    admin_client, everything, model, django_assert_num_queries
):
    url = reverse(f"admin:classifier_{model}_changelist")
    admin_client.get(url)
    with django_assert_num_queries(CHANGELIST_QUERIES[model]):
        admin_client.get(url)
    # Ten more rows of each kind cost no more queries.
    version = everything.model_versions.first()
    for number in range(10, 20):
        make_version(everything, number, ModelVersionStatus.RETIRED, 0.8, 0.8)
        PredictionJobFactory(model_version=version)
        PredictionFactory(image=ImageFactory(project=everything), model_version=version)
        Embedding.objects.create(sha256=f"{number:064d}", backbone="tiny", dim=4, vector=b"")
    with django_assert_num_queries(CHANGELIST_QUERIES[model]):
        admin_client.get(url)


def test_every_change_page_loads(admin_client, everything, versions, jobs, predicted_images):
    prediction = predicted_images["mug"].predictions.first()
    pages = [
        reverse("admin:classifier_modelversion_change", args=[versions[2].pk]),
        reverse("admin:classifier_trainingrun_change", args=[jobs["running"].pk]),
        reverse("admin:classifier_trainingrun_change", args=[jobs["failed"].pk]),
        reverse("admin:classifier_predictionjob_change", args=[jobs["predicting"].pk]),
        reverse("admin:classifier_prediction_change", args=[prediction.pk]),
        reverse("admin:classifier_embedding_change", args=[Embedding.objects.get().pk]),
        reverse("admin:labeling_project_change", args=[everything.pk]),
        reverse("admin:labeling_image_change", args=[predicted_images["mug"].pk]),
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page


def test_the_model_version_list_shows_metrics_and_status(admin_client, versions):
    content = admin_client.get(reverse("admin:classifier_modelversion_changelist")).content
    content = content.decode()
    assert "97.5%" in content and "97.0%" in content  # v2's test and validation accuracy
    assert "coffee 0.97, other 0.97" in content
    assert "300 / 100 / 100" in content
    assert "Active" in content and "Candidate" in content and "Retired" in content


def test_a_model_version_page_shows_per_class_metrics_and_the_confusion_matrix(
    admin_client, versions
):
    content = admin_client.get(
        reverse("admin:classifier_modelversion_change", args=[versions[2].pk])
    ).content.decode()
    assert "<td>coffee</td><td>96.0%</td><td>98.0%</td><td>97.0%</td><td>50</td>" in content
    assert "<tr><th>coffee</th><td>49</td><td>1</td></tr>" in content
    assert "6 epochs; kept epoch 5" in content
    assert f"/projects/{versions[2].project_id}/models/?version=2" in content  # view on site


def test_the_training_run_list_shows_progress_timings_and_errors(admin_client, jobs):
    content = admin_client.get(reverse("admin:classifier_trainingrun_changelist")).content
    content = content.decode()
    assert "width:72%" in content and "72%" in content
    assert "MemoryError: the worker ran out of memory" in content
    assert "Running" in content and "Failed" in content


def test_the_prediction_job_list_shows_progress(admin_client, jobs):
    content = admin_client.get(reverse("admin:classifier_predictionjob_changelist")).content
    assert b"128 / 500" in content and b"width:25%" in content


def test_the_records_are_read_only(admin_client, versions, jobs):
    for model in MODELS:
        assert admin_client.get(reverse(f"admin:classifier_{model}_add")).status_code == 403
    page = admin_client.get(reverse("admin:classifier_modelversion_change", args=[versions[2].pk]))
    assert b'name="_save"' not in page.content


def test_an_unfinished_job_cannot_be_deleted(admin_client, jobs):
    url = reverse("admin:classifier_trainingrun_delete", args=[jobs["running"].pk])
    assert admin_client.get(url).status_code == 403
    both = [jobs["running"].pk, jobs["failed"].pk]
    changelist = reverse("admin:classifier_trainingrun_changelist")
    response = admin_client.post(
        changelist, {"action": "delete_selected", "post": "yes", ACTION_CHECKBOX_NAME: both}
    )
    assert response.status_code == 403
    assert TrainingRun.objects.filter(pk__in=both).count() == 2
    admin_client.post(
        changelist,
        {"action": "delete_selected", "post": "yes", ACTION_CHECKBOX_NAME: [jobs["failed"].pk]},
    )
    assert list(TrainingRun.objects.filter(pk__in=both)) == [jobs["running"]]


def test_the_active_model_version_cannot_be_deleted(admin_client, versions):
    active = versions[2]
    url = reverse("admin:classifier_modelversion_delete", args=[active.pk])

    response = admin_client.post(url, {"post": "yes"}, follow=True)

    assert "cannot be deleted: activate another version first" in messages_of(response)[0]
    changelist = reverse("admin:classifier_modelversion_changelist")
    both = [active.pk, versions[3].pk]
    response = admin_client.post(
        changelist, {"action": "delete_selected", "post": "yes", ACTION_CHECKBOX_NAME: both}
    )
    assert response.status_code == 403
    active.refresh_from_db()
    assert active.status == ModelVersionStatus.ACTIVE


def test_a_version_that_is_not_active_can_be_deleted(admin_client, versions):
    candidate = versions[3]
    url = reverse("admin:classifier_modelversion_delete", args=[candidate.pk])

    admin_client.post(url, {"post": "yes"})

    assert not type(candidate).objects.filter(pk=candidate.pk).exists()
    assert type(candidate).objects.filter(pk=versions[2].pk).exists()


# --- Retrain buttons and actions -----------------------------------------------------------


def test_the_project_page_has_a_retrain_button(admin_client, project):
    content = admin_client.get(
        reverse("admin:labeling_project_change", args=[project.pk])
    ).content.decode()
    form = content.split('id="retrain-form"')[1].split("</form>")[0]
    assert f'action="{reverse("admin:labeling_project_retrain", args=[project.pk])}"' in content
    assert 'method="post"' in content.split('id="retrain-form"')[0][-200:]
    assert "csrfmiddlewaretoken" in form


def test_pressing_retrain_on_the_project_queues_a_run_and_links_to_it(
    admin_client, admin_user, trainable
):
    response = admin_client.post(reverse("admin:labeling_project_retrain", args=[trainable.pk]))
    run = TrainingRun.objects.get(project=trainable)
    assert run.status == JobStatus.QUEUED and run.requested_by == admin_user
    assert response.url == reverse("admin:labeling_project_change", args=[trainable.pk])
    [message] = messages_of(response)
    assert f'href="{reverse("admin:classifier_trainingrun_change", args=[run.pk])}"' in message
    assert f'href="{reverse("classifier:project-jobs", args=[trainable.pk])}"' in message


def test_retrain_on_a_project_that_cannot_train_says_why(admin_client, project):
    response = admin_client.post(reverse("admin:labeling_project_retrain", args=[project.pk]))
    assert not TrainingRun.objects.exists()
    assert "needs labeled training images" in messages_of(response)[0]


def test_the_retrain_button_needs_post(admin_client, project):
    url = reverse("admin:labeling_project_retrain", args=[project.pk])
    assert admin_client.get(url).status_code == 405
    url = reverse("admin:classifier_modelversion_retrain")
    assert admin_client.get(url).status_code == 405


def test_the_model_version_list_has_a_retrain_button_for_the_filtered_project(
    admin_client, project, versions
):
    other = ProjectFactory(name="Birds")
    url = reverse("admin:classifier_modelversion_changelist")
    content = admin_client.get(f"{url}?project__id__exact={project.pk}").content.decode()
    form = content.split('id="retrain-form"')[1].split("</form>")[0]
    assert f'<option value="{project.pk}" selected>Coffee</option>' in form
    assert f'<option value="{other.pk}">Birds</option>' in form
    assert "csrfmiddlewaretoken" in form


def test_pressing_retrain_on_the_model_version_list_queues_the_chosen_projects_run(
    admin_client, trainable
):
    response = admin_client.post(
        reverse("admin:classifier_modelversion_retrain"), {"project": trainable.pk}
    )
    run = TrainingRun.objects.get(project=trainable)
    assert response.url.endswith(f"?project__id__exact={trainable.pk}")
    [message] = messages_of(response)
    assert "Coffee: retraining queued as training run #" in message
    assert reverse("admin:classifier_trainingrun_change", args=[run.pk]) in message


def test_the_retrain_action_queues_a_run_per_project(admin_client, trainable):
    other = ProjectFactory(name="Empty")
    response = action(admin_client, "project", "retrain_selected", [trainable.pk, other.pk],
                      app="labeling")  # fmt: skip
    assert TrainingRun.objects.filter(project=trainable, status=JobStatus.QUEUED).exists()
    assert not TrainingRun.objects.filter(project=other).exists()
    texts = messages_of(response)
    assert any("Coffee: retraining queued" in text for text in texts)
    assert any("Empty: Every class needs labeled training images" in text for text in texts)


def test_the_fine_tuning_action_queues_a_run_in_the_slower_mode(admin_client, trainable, settings):
    settings.CLASSIFIER_BACKBONE = "efficientnet_lite0"  # the one fine-tuning needs
    response = action(admin_client, "project", "fine_tune_selected", [trainable.pk],
                      app="labeling")  # fmt: skip
    run = TrainingRun.objects.get(project=trainable, status=JobStatus.QUEUED)
    assert run.hyperparameters["fine_tune_blocks"] == 2
    assert any("Coffee: retraining queued" in text for text in messages_of(response))


def test_the_project_list_shows_the_active_model(admin_client, versions):
    content = admin_client.get(reverse("admin:labeling_project_changelist")).content.decode()
    assert "v2 (97.5% test)" in content


def test_staff_without_permissions_cannot_retrain(client, project, trainable):
    from tests.factories import UserFactory

    clerk = UserFactory(username="clerk", is_staff=True)
    client.force_login(clerk)
    response = client.post(reverse("admin:labeling_project_retrain", args=[trainable.pk]))
    assert response.status_code == 403
    response = client.post(reverse("admin:classifier_modelversion_retrain"), {"project": 1})
    assert response.status_code == 403
    assert not TrainingRun.objects.exists()


def test_non_staff_are_sent_to_the_admin_login(client, owner, project):
    client.force_login(owner)
    response = client.post(reverse("admin:labeling_project_retrain", args=[project.pk]))
    assert response.status_code == 302 and "/admin/login/" in response.url


# --- Activate, cancel, predict -------------------------------------------------------------


def test_the_activate_action_activates_the_selected_version(admin_client, admin_user, versions):
    action(admin_client, "modelversion", "activate_selected", [versions[1].pk])
    versions[1].refresh_from_db()
    versions[2].refresh_from_db()
    assert versions[1].status == ModelVersionStatus.ACTIVE
    assert versions[1].activated_by == admin_user
    assert versions[2].status == ModelVersionStatus.RETIRED


def test_the_activate_action_refuses_two_versions_of_one_project(admin_client, versions):
    response = action(admin_client, "modelversion", "activate_selected",
                      [versions[1].pk, versions[3].pk])  # fmt: skip
    versions[2].refresh_from_db()
    assert versions[2].status == ModelVersionStatus.ACTIVE
    assert "select one version to activate, not 2 (v1, v3)" in messages_of(response)[0]


def test_the_cancel_action_cancels_unfinished_runs_only(admin_client, jobs):
    action(admin_client, "trainingrun", "cancel_selected", [jobs["running"].pk, jobs["failed"].pk])
    jobs["running"].refresh_from_db()
    jobs["failed"].refresh_from_db()
    assert jobs["running"].status == JobStatus.CANCELLED
    assert jobs["failed"].status == JobStatus.FAILED


def test_predict_selected_queues_a_job_per_project_with_its_active_version(
    admin_client, admin_user, project, versions, predicted_images
):
    unmodelled = ImageFactory(project=ProjectFactory(name="No model"))
    ids = [predicted_images["mug"].pk, predicted_images["cat"].pk, unmodelled.pk]
    response = action(admin_client, "image", "predict_selected", ids, app="labeling")
    job = PredictionJob.objects.get()
    assert job.model_version == versions[2] and job.kind == PredictionJobKind.SELECTED
    assert sorted(job.image_ids) == sorted(ids[:2]) and job.requested_by == admin_user
    texts = messages_of(response)
    assert any("Coffee: predicting 2 image(s) with v2" in text for text in texts)
    assert any("No model: This project has no active model yet" in text for text in texts)


def test_the_image_page_has_every_versions_prediction_inline(admin_client, predicted_images):
    response = admin_client.get(
        reverse("admin:labeling_image_change", args=[predicted_images["plant"].pk])
    )
    [inline] = [
        inline
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model.__name__ == "Prediction"
    ]
    assert [form.instance.model_version.version for form in inline.formset.forms] == [2, 1]
    assert "coffee: 62.0%, other: 38.0%" in response.content.decode()


def test_the_image_list_shows_the_active_prediction(admin_client, predicted_images):
    content = admin_client.get(reverse("admin:labeling_image_changelist")).content.decode()
    assert "coffee 97.0%" in content and "coffee 62.0%" in content


@pytest.mark.django_db(transaction=True)
def test_retrain_in_the_admin_with_the_broker_down_says_so(admin_client, trainable, broker_down):
    response = admin_client.post(reverse("admin:labeling_project_retrain", args=[trainable.pk]))
    texts = messages_of(response)
    assert "retraining queued as training run #" in texts[0]
    assert "could not be reached" in texts[1]
    assert TrainingRun.objects.get().status == JobStatus.QUEUED
