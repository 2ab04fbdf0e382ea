"""The Models page's calibration card (temperature, ECE before/after, reliability diagram),
the promotion reason, pinning, and the link to the images two versions classify differently."""

import pytest
from django.urls import reverse

from classifier.models import ModelVersion

pytestmark = pytest.mark.django_db

RELIABILITY = [
    {"lower": i / 15, "upper": (i + 1) / 15, "count": 0, "confidence": None, "accuracy": None}
    for i in range(15)
]
RELIABILITY[14] = {"lower": 14 / 15, "upper": 1.0, "count": 90, "confidence": 0.98,
                   "accuracy": 0.99}  # fmt: skip
RELIABILITY[10] = {"lower": 10 / 15, "upper": 11 / 15, "count": 10, "confidence": 0.7,
                   "accuracy": 0.8}  # fmt: skip


@pytest.fixture
def calibrated(versions):
    active = versions[2]
    active.calibration = {
        "temperature": 0.75, "ece_before": 0.0312, "ece_after": 0.0181,
        "reliability_before": RELIABILITY, "reliability_after": RELIABILITY,
        "unsure_threshold": 0.72, "split": "test",
    }  # fmt: skip
    active.promotion_decision = "promoted"
    active.promotion_reason = "Activated: validation accuracy 0.970 beat v1's 0.900."
    active.save()
    return active


def page(client, user, project, **query):
    client.force_login(user)
    url = reverse("classifier:project-models", args=[project.pk])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return client.get(url).content.decode()


def test_the_calibration_card_shows_the_temperature_and_the_ece_before_and_after(
    client, owner, project, calibrated
):
    card = page(client, owner, project).split('id="calibration-card"')[1]

    assert 'data-metric="temperature">0.750' in card
    assert 'data-metric="ece_before">0.0312' in card
    assert 'data-metric="ece_after">0.0181' in card
    assert "72.0%" in card  # the default unsure threshold


def test_the_reliability_diagram_draws_one_bar_per_non_empty_bin(
    client, owner, project, calibrated
):
    diagram = page(client, owner, project).split('id="reliability-diagram"')[1].split("</svg>")[0]

    assert diagram.count('class="reliability-bin"') == 2
    assert "90 image(s), accuracy 0.99, mean confidence 0.98" in diagram
    assert 'height="99.0"' in diagram  # accuracy 0.99 of the 100-high box


def test_a_version_made_before_calibration_says_so(client, owner, project, versions):
    card = page(client, owner, project, version=1).split('id="calibration-card"')[1]

    assert "made before calibration" in card


def test_the_promotion_reason_is_shown(client, owner, project, calibrated):
    content = page(client, owner, project)

    assert "Promoted automatically: Activated: validation accuracy 0.970" in content


def test_a_candidate_links_to_the_images_it_classifies_differently(
    client, viewer, project, versions
):
    candidate = versions[3]

    content = page(client, viewer, project)

    gallery = reverse("labeling:project-gallery", args=[project.pk])
    assert f'href="{gallery}?compared_with={candidate.pk}"' in content


def test_owners_pin_a_version_from_the_page(client, owner, project, versions):
    client.force_login(owner)

    client.post(reverse("classifier:model-version-pin", args=[versions[3].pk]), {"pinned": "1"})

    pinned = ModelVersion.objects.get(pk=versions[3].pk)
    assert (pinned.status, pinned.pinned) == ("active", True)
    assert "data-pinned" in page(client, owner, project)


def test_viewers_see_no_pin_button(client, viewer, project, versions):
    assert "pin-button" not in page(client, viewer, project)
