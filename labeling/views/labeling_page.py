"""The labeling page and its JSON endpoints: the next images (with the model's suggestions),
annotate (or accept the suggestion), undo, skip, and bring the skipped images back.

The endpoints answer JSON like the API (errors as {"detail"} with a 4xx status) and give
images and classes in the API's shapes (labeling.api.serializers), without its URL
machinery: they are the page's own, behind the session and its CSRF token.
"""

import json
import random
import time
from functools import wraps

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from classifier import services as classifier_services
from classifier.selectors import labeling_queue, suggestions_for_images
from labeling import services
from labeling.api.serializers import ImagePageSerializer, LabelClassSerializer
from labeling.models import Image, LabelClass, Project, Role
from labeling.permissions import AuthenticatedHttpRequest, project_for_user
from labeling.selectors import (
    gold_images_unlabeled_by,
    images_skipped_by,
    project_split_progress,
    queue_with_gold,
)


def json_endpoint(view):
    """For the labeling page's endpoints: errors as JSON {"detail"} with a 4xx status (like
    the API), and a Server-Timing header with the view's own time, which the page records."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        started = time.perf_counter()
        try:
            response = view(request, *args, **kwargs)
        except Http404:
            response = JsonResponse({"detail": "Not found."}, status=404)
        except PermissionDenied as error:
            response = JsonResponse({"detail": str(error) or "Not allowed."}, status=403)
        except ValidationError as error:
            response = JsonResponse({"detail": " ".join(error.messages)}, status=400)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    return wrapper


def _json_body(request: AuthenticatedHttpRequest) -> dict:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ValidationError("The request body is not JSON.") from None
    if not isinstance(body, dict):
        raise ValidationError("The request body must be a JSON object.")
    return body


def _int_field(body: dict, name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise ValidationError(f"{name!r} must be an id.")
    return int(value)


def _skipped_count(request: AuthenticatedHttpRequest, project: Project) -> int:
    """How many images this user skipped in this project that "show skipped" would bring
    back (skips outlive the login: labeling.models.ImageSkip)."""
    return images_skipped_by(project=project, user=request.user).count()


def _with_suggestions(project: Project, images: list[Image]) -> list[dict]:
    """The images in the API's shape, each with the model's `suggestion` (or null)."""
    suggestions = suggestions_for_images(project=project, images=images)
    # many=True makes the serializer a ListSerializer, whose data is a list; the stubs type
    # .data as the single object's ReturnDict.
    data: list[dict] = ImagePageSerializer(images, many=True).data  # type: ignore[assignment]
    for image in data:
        image["suggestion"] = suggestions.get(image["id"])
    return data


def _labeling_queue(
    request: AuthenticatedHttpRequest, project: Project, exclude: set[int]
) -> list[dict]:
    """The next images to label in the project's queue order (the classifier's labeling
    queue), in the API's shape of an image with its suggestion and `queue_reason` (why it is
    next), with gold images mixed in at the project's rate. A gold image looks like any
    other: its known label is not sent, and its reason is the one of the queued image it
    stands in front of. The user's skipped images stay out (both selectors leave them out)."""
    queued = labeling_queue(
        project=project, user=request.user, exclude_ids=exclude, limit=LABELING_PREFETCH
    )
    images = [item.image for item in queued]
    reasons = [item.reason for item in queued]
    if project.gold_percent and images:
        gold = gold_images_unlabeled_by(
            project=project, user=request.user, exclude_ids=exclude
        ).select_related("label")[:LABELING_PREFETCH]
        images = queue_with_gold(
            queue=images, gold=list(gold), percent=project.gold_percent, rng=random.Random()
        )[:LABELING_PREFETCH]
    data = _with_suggestions(project, images)
    for position, (image, shown) in enumerate(zip(images, data, strict=True)):
        if image.gold:
            shown["label"] = None
        shown["queue_reason"] = reasons[min(position, len(reasons) - 1)]
    return data


# How many images the labeling page is sent at a time, to load in the background: enough that a
# fast annotator never waits for the next one, few enough that big photos do not fill memory.
LABELING_PREFETCH = 5


@require_GET
def project_label(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    project, role = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    classes = list(project.classes.all())
    queue = _labeling_queue(request, project, exclude=set())
    progress = project_split_progress(project=project)
    state = {
        "classes": LabelClassSerializer(classes, many=True).data,
        "queue": queue,
        "progress": progress,
        "skipped": _skipped_count(request, project),
        "urls": {
            "queue": reverse("labeling:project-label-queue", args=[project.pk]),
            "annotate": reverse("labeling:project-label-annotate", args=[project.pk]),
            "undo": reverse("labeling:project-label-undo", args=[project.pk]),
            "skip": reverse("labeling:project-label-skip", args=[project.pk]),
            "unskip": reverse("labeling:project-label-unskip", args=[project.pk]),
        },
    }
    return render(
        request,
        "labeling/project_label.html",
        {
            "project": project,
            "role": role,
            "classes": classes,
            "state": state,
            # An empty queue means "upload images" in a project without any, not "all done".
            "image_count": sum(split["total"] for split in progress.values()),
        },
    )


@require_GET
@json_endpoint
def project_label_queue(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """The next images for this user, leaving out the ones the page already holds."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    raw = request.GET.get("exclude", "")
    exclude = {int(part) for part in raw.split(",") if part.strip().isdigit()}
    return JsonResponse(
        {
            "queue": _labeling_queue(request, project, exclude=exclude),
            "progress": project_split_progress(project=project),
        }
    )


def _project_image(project: Project, image_id: int) -> Image:
    return get_object_or_404(Image.objects.only("pk", "project_id"), pk=image_id, project=project)


@require_POST
@json_endpoint
def project_label_annotate(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """{"image": id, "label_class": id, "from_suggestion"?: bool} -> 201: the user's label on
    the image; with from_suggestion, the acceptance of the suggestion shown (of that class)."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    body = _json_body(request)
    image = _project_image(project, _int_field(body, "image"))
    label_class_id = _int_field(body, "label_class")
    if body.get("from_suggestion") is True:
        image = get_object_or_404(Image.objects.select_related("project"), pk=image.pk)
        annotation = classifier_services.suggestion_accept(
            image=image, user=request.user, label_class_id=label_class_id
        )
    else:
        label_class = LabelClass.objects.filter(project=project, pk=label_class_id).first()
        if label_class is None:
            raise ValidationError("That class is not one of this project's.")
        annotation = services.annotation_create(
            image=image.pk, user=request.user, label_class=label_class
        )
    return JsonResponse(
        {
            "image": image.pk,
            "label_class": annotation.label_class_id,
            "from_suggestion": annotation.from_suggestion,
            "progress": project_split_progress(project=project),
        },
        status=201,
    )


@require_POST
@json_endpoint
def project_label_undo(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """{"image": id} -> 200: takes back the user's label on the image."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    image = _project_image(project, _int_field(_json_body(request), "image"))
    services.annotation_delete(image=image.pk, user=request.user)
    return JsonResponse({"image": image.pk, "progress": project_split_progress(project=project)})


@require_POST
@json_endpoint
def project_label_skip(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """{"image": id, "skip": true|false} -> 200: leave the image out of this user's queue
    until they bring it back (or, with false, take the skip back when it is undone)."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    body = _json_body(request)
    image = _project_image(project, _int_field(body, "image"))
    if body.get("skip", True):
        services.image_skip(image=image, user=request.user)
    else:
        services.image_skip_undo(image=image, user=request.user)
    return JsonResponse({"image": image.pk, "skipped": _skipped_count(request, project)})


@require_POST
@json_endpoint
def project_label_unskip(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """-> 200 {"queue": [...]}: the images this user skipped that still need their label, in
    the order they were skipped, to label now; every skip of theirs in the project is brought
    back (images labeled meanwhile just leave the list)."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    images = list(images_skipped_by(project=project, user=request.user).select_related("label"))
    services.image_skips_restore(project=project, user=request.user)
    return JsonResponse({"queue": _with_suggestions(project, images), "skipped": 0})
