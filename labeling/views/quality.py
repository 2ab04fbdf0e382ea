"""The team's quality page: agreement between annotators and each one's figures (owners), or
the signed-in annotator's own figures (everyone else)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from labeling.models import Image, Role, Split
from labeling.permissions import project_for_user, user_authenticated
from labeling.selectors import project_agreement, project_annotator_figures
from labeling.selectors.quality import (
    LABEL_TIME_BREAK_SECONDS,
    MIN_SHARED_IMAGES,
    ProjectAgreement,
)


def _agreement_row(name: str, result: ProjectAgreement) -> dict:
    figures, usernames = result.agreement, result.usernames
    return {
        "name": name,
        "figures": figures,
        "pairs": [
            {
                "names": " · ".join(usernames[annotator] for annotator in pair.annotators),
                "kappa": pair.cohen_kappa,
                "images": pair.images,
            }
            for pair in figures.pairs
        ],
    }


@require_GET
def project_quality(request: HttpRequest, pk: int) -> HttpResponse:
    project, role = project_for_user(user=request.user, pk=pk, needed=Role.VIEWER)
    user = user_authenticated(request.user)
    is_owner = role == Role.OWNER
    context: dict = {
        "project": project,
        "role": role,
        "is_owner": is_owner,
        "min_shared_images": MIN_SHARED_IMAGES,
        "break_minutes": LABEL_TIME_BREAK_SECONDS // 60,
        "annotators": project_annotator_figures(project=project, user=None if is_owner else user),
    }
    if is_owner:
        scopes = [("All splits", None)] + [(label, value) for value, label in Split.choices]
        context["agreements"] = [
            _agreement_row(name, project_agreement(project=project, split=split))
            for name, split in scopes
        ]
        context["gold_images"] = Image.objects.filter(project=project, gold=True).count()
    return render(request, "labeling/project_quality.html", context)
