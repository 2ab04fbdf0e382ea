"""The grid (select and label many), the gallery (browse) and the image page (review,
split). Both lists filter by labeling's fields and by the classifier's predictions."""

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from classifier import selectors as classifier_selectors
from classifier import services as classifier_services
from classifier.image_filters import (
    PredictionFilterForm,
    SuggestionsAcceptForm,
    images_filtered_by_prediction,
    images_with_active_prediction,
)
from labeling import services
from labeling.forms import GridApplyForm, ImageFilterForm, ReviewForm, SplitForm
from labeling.models import AnnotationBatch, Image, Project, Role, Split
from labeling.permissions import (
    AuthenticatedHttpRequest,
    image_for_user,
    project_for_user,
    role_allows,
)
from labeling.selectors import (
    ImagePaginator,
    image_annotations,
    images_filtered,
    images_with_annotation_count,
)
from labelplatform.navigation import redirect_back

GRID_PAGE_SIZE = 48


class GalleryFilterForm(ImageFilterForm, PredictionFilterForm):
    """The grid's and gallery's filters: labeling's, then the classifier's prediction
    filters."""

    field_order = [*ImageFilterForm.base_fields, *PredictionFilterForm.base_fields]


def _project_images(
    request: AuthenticatedHttpRequest, pk: int, *, selectable: bool
) -> HttpResponse:
    """A page of thumbnails with filters. The grid (annotators) selects and labels them;
    the gallery (every member) only browses."""
    needed = Role.ANNOTATOR if selectable else Role.VIEWER
    project, role = project_for_user(user=request.user, pk=pk, needed=needed)
    classes = list(project.classes.all())
    filter_form = GalleryFilterForm(request.GET or None, project=project)
    filters = filter_form.filters()
    images = images_filtered(project=project, filters=filters, user=request.user)
    images = images_with_active_prediction(images_filtered_by_prediction(images, filters=filters))
    images = images_with_annotation_count(images)
    page = ImagePaginator(images, GRID_PAGE_SIZE).get_page(request.GET.get("page"))
    last_batch = _last_batch(request, project) if selectable else None
    return render(
        request,
        "labeling/project_images.html",
        {
            "project": project,
            "role": role,
            "classes": classes,
            "filter_form": filter_form,
            "page": page,
            "page_range": page.paginator.get_elided_page_range(page.number, on_each_side=2),
            "selectable": selectable,
            "can_annotate": role_allows(role, Role.ANNOTATOR),
            "page_url_name": "labeling:project-grid" if selectable else "labeling:project-gallery",
            "last_batch": last_batch,
            "default_accept_percent": DEFAULT_ACCEPT_PERCENT,
        },
    )


@require_GET
def project_grid(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _project_images(request, pk, selectable=True)


@require_GET
def project_gallery(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _project_images(request, pk, selectable=False)


# The grid's bulk accept starts at this threshold: high enough that almost every accepted
# suggestion is right, so undoing is the exception.
DEFAULT_ACCEPT_PERCENT = 95


def _last_batch_key(project: Project) -> str:
    return f"labeling-last-batch-{project.pk}"


def _last_batch(request: AuthenticatedHttpRequest, project: Project) -> AnnotationBatch | None:
    """The user's last bulk action in the grid, while it can still be undone."""
    batch_id = request.session.get(_last_batch_key(project))
    if batch_id is None:
        return None
    return AnnotationBatch.objects.filter(
        pk=batch_id, project=project, user=request.user, undone_at__isnull=True
    ).first()


def _images(count: int) -> str:
    return f"{count} image{'s' if count != 1 else ''}"


@require_POST
def project_grid_apply(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    form = GridApplyForm(request.POST, project=project)
    if form.is_valid():
        label_class = form.cleaned_data["label_class"]
        batch = services.annotations_create_bulk(
            image_ids=form.cleaned_data["image_ids"], user=request.user, label_class=label_class
        )
        request.session[_last_batch_key(project)] = batch.pk
        messages.success(request, f"Labeled {_images(batch.size)} as {label_class.name}.")
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect_back(request, reverse("labeling:project-grid", args=[project.pk]))


def _accept_candidates(
    project: Project, form: SuggestionsAcceptForm, request: AuthenticatedHttpRequest
) -> QuerySet[Image]:
    """The images a bulk accept is about: the page's, or the grid's filtered list."""
    if form.cleaned_data["scope"] == SuggestionsAcceptForm.PAGE:
        return Image.objects.filter(project=project, pk__in=form.cleaned_data["image_ids"])
    filter_form = GalleryFilterForm(
        QueryDict(form.cleaned_data["filter_query"]) or None, project=project
    )
    filters = filter_form.filters()
    images = images_filtered(project=project, filters=filters, user=request.user)
    return images_filtered_by_prediction(images, filters=filters)


@require_GET
def project_grid_accept_count(request: AuthenticatedHttpRequest, pk: int) -> JsonResponse:
    """?min_confidence=&scope=&image_ids=&filter_query= -> {"count"}: how many suggestions a
    bulk accept would accept, for the grid's confirmation."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    form = SuggestionsAcceptForm(request.GET)
    if not form.is_valid():
        return JsonResponse({"detail": "Give a confidence from 0 to 100."}, status=400)
    acceptable = classifier_selectors.images_with_acceptable_suggestion(
        project=project,
        user=request.user,
        images=_accept_candidates(project, form, request),
        min_confidence=form.min_confidence_fraction,
    )
    return JsonResponse({"count": acceptable.count()})


@require_POST
def project_grid_accept_suggestions(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Accept every suggestion at or above the threshold on the page or across the filter,
    as the user's annotations; the grid then offers to undo it."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    form = SuggestionsAcceptForm(request.POST)
    if form.is_valid():
        result = classifier_services.suggestions_accept_bulk(
            project=project,
            user=request.user,
            images=_accept_candidates(project, form, request),
            min_confidence=form.min_confidence_fraction,
        )
        request.session[_last_batch_key(project)] = result.batch.pk
        threshold = form.cleaned_data["min_confidence"]
        if result.accepted:
            messages.success(
                request, f"Accepted the suggestion on {_images(result.accepted)} (≥ {threshold}%)."
            )
        else:
            messages.info(request, f"No suggestion at or above {threshold}% left to accept.")
    else:
        messages.error(request, "Give a confidence from 0 to 100.")
    return redirect_back(request, reverse("labeling:project-grid", args=[project.pk]))


@require_POST
def annotation_batch_undo(
    request: AuthenticatedHttpRequest, pk: int, batch_pk: int
) -> HttpResponse:
    """Undo one of the user's bulk actions in the grid."""
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    batch = get_object_or_404(AnnotationBatch, pk=batch_pk, project=project, user=request.user)
    undone, kept = services.annotation_batch_undo(batch=batch, user=request.user)
    note = f" ({_images(kept)} you labeled again since keep that label)" if kept else ""
    messages.success(request, f"Undone: {_images(undone)} back as they were{note}.")
    return redirect_back(request, reverse("labeling:project-grid", args=[project.pk]))


# --- Image page --------------------------------------------------------------------------------


@require_GET
def image_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    image, role = image_for_user(user=request.user, pk=pk)
    project = image.project
    return render(
        request,
        "labeling/image_detail.html",
        {
            "image": image,
            "project": project,
            "role": role,
            "classes": list(project.classes.all()),
            "annotations": image_annotations(image=image),
            "can_manage": role_allows(role, Role.OWNER),
            "splits": Split.choices,
        },
    )


@require_POST
def image_review(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """An owner's decision on the image's label (or its withdrawal, with no class)."""
    image, _ = image_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    form = ReviewForm(request.POST, project=image.project)
    if form.is_valid():
        label_class = form.cleaned_data["label_class"]
        services.image_review(image=image, label_class=label_class)
        if label_class:
            messages.success(
                request, f"{image.original_name} is now {label_class.name} (reviewed)."
            )
        else:
            messages.info(
                request, f"Review withdrawn; {image.original_name} follows its annotations."
            )
    else:
        messages.error(request, "Pick one of the project's classes.")
    return redirect_back(request, reverse("labeling:image-detail", args=[image.pk]))


@require_POST
def image_split(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    image, _ = image_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    form = SplitForm(request.POST)
    if form.is_valid():
        services.images_split_set(image_ids=[image.pk], split=form.cleaned_data["split"])
        messages.success(request, f"Moved to {Split(form.cleaned_data['split']).label.lower()}.")
    else:
        messages.error(request, "Pick train, validation or test.")
    return redirect_back(request, reverse("labeling:image-detail", args=[image.pk]))
