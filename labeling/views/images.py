"""The grid (select and label many), the gallery (browse) and the image page (review,
split). Both lists filter by labeling's fields and by the classifier's predictions."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from classifier.image_filters import (
    PredictionFilterForm,
    images_filtered_by_prediction,
    images_with_active_prediction,
)
from labeling import services
from labeling.forms import GridApplyForm, ImageFilterForm, ReviewForm, SplitForm
from labeling.models import Role, Split
from labeling.permissions import image_for_user, project_for_user, role_allows
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


def _project_images(request: HttpRequest, pk: int, *, selectable: bool) -> HttpResponse:
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
        },
    )


@require_GET
def project_grid(request: HttpRequest, pk: int) -> HttpResponse:
    return _project_images(request, pk, selectable=True)


@require_GET
def project_gallery(request: HttpRequest, pk: int) -> HttpResponse:
    return _project_images(request, pk, selectable=False)


@require_POST
def project_grid_apply(request: HttpRequest, pk: int) -> HttpResponse:
    project, _ = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    form = GridApplyForm(request.POST, project=project)
    if form.is_valid():
        label_class = form.cleaned_data["label_class"]
        count = services.annotations_create_bulk(
            image_ids=form.cleaned_data["image_ids"], user=request.user, label_class=label_class
        )
        messages.success(
            request, f"Labeled {count} image{'s' if count != 1 else ''} as {label_class.name}."
        )
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect_back(request, reverse("labeling:project-grid", args=[project.pk]))


# --- Image page --------------------------------------------------------------------------------


@require_GET
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
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
def image_review(request: HttpRequest, pk: int) -> HttpResponse:
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
def image_split(request: HttpRequest, pk: int) -> HttpResponse:
    image, _ = image_for_user(user=request.user, pk=pk, needed=Role.OWNER)
    form = SplitForm(request.POST)
    if form.is_valid():
        services.images_split_set(image_ids=[image.pk], split=form.cleaned_data["split"])
        messages.success(request, f"Moved to {Split(form.cleaned_data['split']).label.lower()}.")
    else:
        messages.error(request, "Pick train, validation or test.")
    return redirect_back(request, reverse("labeling:image-detail", args=[image.pk]))
