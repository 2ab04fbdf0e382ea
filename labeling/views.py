"""The labeling side's web pages, the labeling page's JSON endpoints and the media views.

Views stay thin: they check the user's role (labeling.permissions), validate with
labeling.forms, write through labeling.services and read through labeling.selectors.
A project a user does not belong to does not exist for them (404); a member whose role is
too low for a page gets 403.
"""

import json
import time
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_cache_control
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from classifier import selectors as classifier_selectors
from classifier.image_filters import (
    PredictionFilterForm,
    images_filtered_by_prediction,
    images_with_active_prediction,
)
from labeling import export, services
from labeling.forms import (
    GridApplyForm,
    ImageFilterForm,
    LabelClassFormSet,
    MemberAddForm,
    MemberRoleForm,
    ProjectForm,
    ReviewForm,
    SplitForm,
    UploadForm,
    label_class_formset_initial,
)
from labeling.ingest import IncomingFile, image_ingest, storage_failure_detail
from labeling.models import Image, LabelClass, Membership, Project, Role, Split
from labeling.permissions import project_role, role_allows
from labeling.selectors import (
    ImagePaginator,
    image_annotations,
    images_filtered,
    images_with_annotation_count,
    project_conflicts,
    project_count_table,
    project_member_contributions,
    project_recent_activity,
    project_split_progress,
    projects_with_counts_visible_to,
)

# --- Access ------------------------------------------------------------------------------------


def _project_for(request: HttpRequest, pk: int, needed: str = Role.VIEWER) -> tuple[Project, str]:
    """The project and the user's role in it: 404 for non-members, 403 below `needed`."""
    project = get_object_or_404(Project, pk=pk)
    return project, _require_role(request, project, needed)


def _image_for(request: HttpRequest, pk: int, needed: str = Role.VIEWER) -> tuple[Image, str]:
    """The image (with its project) and the user's role in its project; as _project_for."""
    image = get_object_or_404(
        Image.objects.select_related("project", "label", "uploaded_by"), pk=pk
    )
    return image, _require_role(request, image.project, needed)


def _require_role(request: HttpRequest, project: Project, needed: str) -> str:
    role = project_role(user=request.user, project=project)
    if role is None:
        raise Http404("No such project.")
    if not role_allows(role, needed):
        raise PermissionDenied(f"This needs the {Role(needed).label.lower()} role.")
    return role


def _redirect_back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    """Back to the page the form named in `next`, if it is one of ours."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)


def _message_for(error: ValidationError) -> str:
    return " ".join(error.messages)


# --- Home and projects -------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    projects = projects_with_counts_visible_to(user=request.user)
    return render(request, "labeling/home.html", {"projects": projects})


@require_http_methods(["GET", "POST"])
def project_create(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else None
    form = ProjectForm(data)
    classes = LabelClassFormSet(
        data, prefix="classes", initial=None if data else label_class_formset_initial()
    )
    if data is not None and form.is_valid() and classes.is_valid():
        try:
            project = services.project_create(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                created_by=request.user,
                classes=classes.class_specs(),
                split_ratios=form.split_ratios,
                annotations_per_image=form.cleaned_data["annotations_per_image"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Project “{project.name}” created. Upload some images.")
            return redirect("labeling:project-upload", pk=project.pk)
    return render(request, "labeling/project_form.html", {"form": form, "classes": classes})


@require_GET
def project_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    project, role = _project_for(request, pk)
    classes = list(project.classes.all())
    context = {
        "project": project,
        "role": role,
        "classes": classes,
        "can_annotate": role_allows(role, Role.ANNOTATOR),
        "can_manage": role_allows(role, Role.OWNER),
        "table": project_count_table(project=project, classes=classes),
        "members": project_member_contributions(project=project),
        "activity": project_recent_activity(project=project),
    }
    if context["can_manage"]:
        conflicts = project_conflicts(project=project)
        context.update(
            conflicts=conflicts[:24],
            roles=Role.choices,
            export_formats=EXPORT_CHOICES,
        )
    return render(request, "labeling/project_dashboard.html", context)


# --- Members (owners) --------------------------------------------------------------------------


def _members_url(project: Project) -> str:
    return reverse("labeling:project-dashboard", args=[project.pk]) + "#members"


@require_POST
def project_member_add(request: HttpRequest, pk: int) -> HttpResponse:
    project, _ = _project_for(request, pk, Role.OWNER)
    form = MemberAddForm(request.POST)
    if form.is_valid():
        user, role = form.cleaned_data["username"], form.cleaned_data["role"]
        try:
            services.membership_set(project=project, user=user, role=role)
        except ValidationError as error:
            messages.error(request, _message_for(error))
        else:
            messages.success(request, f"{user.get_username()} is now {Role(role).label.lower()}.")
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect(_members_url(project))


@require_POST
def project_member_role(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    project, _ = _project_for(request, pk, Role.OWNER)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), project=project, user_id=user_id
    )
    form = MemberRoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_set(
                project=project, user=membership.user, role=form.cleaned_data["role"]
            )
        except ValidationError as error:
            messages.error(request, _message_for(error))
        else:
            messages.success(request, f"{membership.user.get_username()}'s role changed.")
    return redirect(_members_url(project))


@require_POST
def project_member_remove(request: HttpRequest, pk: int, user_id: int) -> HttpResponse:
    project, _ = _project_for(request, pk, Role.OWNER)
    membership = get_object_or_404(
        Membership.objects.select_related("user"), project=project, user_id=user_id
    )
    try:
        services.membership_remove(project=project, user=membership.user)
    except ValidationError as error:
        messages.error(request, _message_for(error))
        return redirect(_members_url(project))
    messages.success(request, f"{membership.user.get_username()} was removed from the project.")
    if membership.user == request.user and not request.user.is_staff:
        return redirect("labeling:home")
    return redirect(_members_url(project))


# --- Export (owners) -------------------------------------------------------------------------

EXPORT_CHOICES = [
    ("zip", "Images (ImageFolder zip)", "file-earmark-zip"),
    ("csv", "Labels (CSV)", "filetype-csv"),
    ("json", "Labels (JSON)", "filetype-json"),
]


@require_GET
def project_export(request: HttpRequest, pk: int, format: str) -> HttpResponse:
    """The project's dataset as a download, streamed: no export waits to be built in memory
    or times out the request."""
    project, _ = _project_for(request, pk, Role.OWNER)
    if format not in export.EXPORT_FORMATS:
        raise Http404("No such export format.")
    stream = export.project_export(project=project, format=format)
    response = StreamingHttpResponse(stream.chunks, content_type=stream.content_type)
    response["Content-Disposition"] = f'attachment; filename="{stream.filename}"'
    patch_cache_control(response, private=True, no_store=True)
    return response


# --- Upload ------------------------------------------------------------------------------------

UPLOAD_AGAIN_LATER = "Upload the others again later: the ones stored are reported as duplicates."


@require_http_methods(["GET", "POST"])
def project_upload(request: HttpRequest, pk: int) -> HttpResponse:
    """The upload page. POST takes one batch of files (the page sends a few per request)
    and answers with each file's verdict: JSON for the page's script, or the page itself
    with a verdict table for a plain form submission."""
    project, role = _project_for(request, pk, Role.ANNOTATOR)
    if request.method == "GET":
        return _upload_page(request, project, role, UploadForm(project=project))

    wants_json = request.accepts("application/json") and not request.accepts("text/html")
    try:
        files = request.FILES.getlist("files")
    except MultiPartParserError as error:
        # A malformed body, or a file name of about 900 characters or more: Django refuses
        # part headers over 1 KB before any view sees them.
        files, unreadable = [], f"The upload could not be read ({error})."
    else:
        unreadable = ""
    form = UploadForm(request.POST, project=project)
    if unreadable or not form.is_valid() or not files:
        detail = " ".join(e for errors in form.errors.values() for e in errors)
        detail = unreadable or detail or "Choose at least one file."
        if wants_json:
            return JsonResponse({"detail": detail}, status=400)
        messages.error(request, detail)
        return _upload_page(request, project, role, form, status=400)

    report = image_ingest(
        project=project,
        uploaded_by=request.user,
        files=[IncomingFile(name=upload.name, file=upload) for upload in files],
        split=form.cleaned_data["split"],
        label=form.cleaned_data["label"],
    )
    verdicts = _upload_verdicts(report)
    if report.storage_failure is not None:
        # Insufficient Storage, or Service Unavailable when the storage failed otherwise; each
        # file's verdict is still given (the ones stored before the failure stay stored).
        status = 507 if report.storage_failure.full else 503
        detail = f"{storage_failure_detail(report)} {UPLOAD_AGAIN_LATER}"
        if wants_json:
            return JsonResponse({"detail": detail, **verdicts}, status=status)
        messages.error(request, detail)
        return _upload_page(
            request, project, role, UploadForm(project=project), verdicts=verdicts, status=status
        )
    if wants_json:
        return JsonResponse(verdicts, status=201 if verdicts["created"] else 200)
    return _upload_page(request, project, role, UploadForm(project=project), verdicts=verdicts)


def _upload_page(request, project, role, form, *, verdicts=None, status=200) -> HttpResponse:
    context = {
        "project": project,
        "role": role,
        "form": form,
        "verdicts": verdicts,
        "max_megabytes": settings.IMAGE_MAX_BYTES // (1024 * 1024),
        "max_megapixels": settings.IMAGE_MAX_PIXELS // 1_000_000,
    }
    return render(request, "labeling/project_upload.html", context, status=status)


def _upload_verdicts(report) -> dict:
    def image_json(image: Image) -> dict:
        return {
            "id": image.pk,
            "name": image.original_name,
            "split": image.split,
            "label": image.label.name if image.label_id else None,
            "url": reverse("labeling:image-detail", args=[image.pk]),
            "thumbnail_url": reverse("labeling:image-thumbnail", args=[image.pk]),
        }

    return {
        "created": [image_json(image) for image in report.created],
        "duplicates": [
            {"name": name, "of": image_json(image)} for name, image in report.duplicates
        ],
        "rejected": [{"name": name, "error": error} for name, error in report.rejected],
    }


# --- The labeling page and its JSON endpoints --------------------------------------------------


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
            response = JsonResponse({"detail": _message_for(error)}, status=400)
        response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        return response

    return wrapper


def _json_body(request: HttpRequest) -> dict:
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


def _skipped_key(project: Project) -> str:
    return f"labeling-skipped-{project.pk}"


def _skipped_ids(request: HttpRequest, project: Project) -> list[int]:
    """The images this user skipped in this project during this login session."""
    return request.session.get(_skipped_key(project), [])


def _labeling_image_json(image: Image) -> dict:
    return {
        "id": image.pk,
        "name": image.original_name,
        "split": image.split,
        "width": image.width,
        "height": image.height,
        "url": reverse("labeling:image-file", args=[image.pk]),
        "detail_url": reverse("labeling:image-detail", args=[image.pk]),
    }


def _labeling_queue(request: HttpRequest, project: Project, exclude: set[int]) -> list[dict]:
    images = classifier_selectors.images_to_label_next(
        project=project,
        user=request.user,
        exclude_ids=exclude | set(_skipped_ids(request, project)),
        limit=LABELING_PREFETCH,
    )
    return [_labeling_image_json(image) for image in images]


# How many images the labeling page is sent at a time, to load in the background: enough that a
# fast annotator never waits for the next one, few enough that big photos do not fill memory.
LABELING_PREFETCH = 5


@require_GET
def project_label(request: HttpRequest, pk: int) -> HttpResponse:
    project, role = _project_for(request, pk, Role.ANNOTATOR)
    classes = list(project.classes.all())
    state = {
        "classes": [{"id": c.pk, "name": c.name, "key": c.key, "color": c.color} for c in classes],
        "queue": _labeling_queue(request, project, exclude=set()),
        "progress": project_split_progress(project=project),
        "skipped": len(_skipped_ids(request, project)),
        "urls": {
            "queue": reverse("labeling:project-label-queue", args=[project.pk]),
            "annotate": reverse("labeling:project-label-annotate", args=[project.pk]),
            "undo": reverse("labeling:project-label-undo", args=[project.pk]),
            "skip": reverse("labeling:project-label-skip", args=[project.pk]),
        },
    }
    return render(
        request,
        "labeling/project_label.html",
        {"project": project, "role": role, "classes": classes, "state": state},
    )


@require_GET
@json_endpoint
def project_label_queue(request: HttpRequest, pk: int) -> JsonResponse:
    """The next images for this user, leaving out the ones the page already holds."""
    project, _ = _project_for(request, pk, Role.ANNOTATOR)
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
def project_label_annotate(request: HttpRequest, pk: int) -> JsonResponse:
    """{"image": id, "label_class": id} -> 201: the user's label on the image."""
    project, _ = _project_for(request, pk, Role.ANNOTATOR)
    body = _json_body(request)
    image = _project_image(project, _int_field(body, "image"))
    label_class = LabelClass.objects.filter(
        project=project, pk=_int_field(body, "label_class")
    ).first()
    if label_class is None:
        raise ValidationError("That class is not one of this project's.")
    annotation = services.annotation_create(
        image=image.pk, user=request.user, label_class=label_class
    )
    return JsonResponse(
        {
            "image": image.pk,
            "label_class": annotation.label_class_id,
            "progress": project_split_progress(project=project),
        },
        status=201,
    )


@require_POST
@json_endpoint
def project_label_undo(request: HttpRequest, pk: int) -> JsonResponse:
    """{"image": id} -> 200: takes back the user's label on the image."""
    project, _ = _project_for(request, pk, Role.ANNOTATOR)
    image = _project_image(project, _int_field(_json_body(request), "image"))
    services.annotation_delete(image=image.pk, user=request.user)
    return JsonResponse({"image": image.pk, "progress": project_split_progress(project=project)})


@require_POST
@json_endpoint
def project_label_skip(request: HttpRequest, pk: int) -> JsonResponse:
    """{"image": id, "skip": true|false} -> 200: leave the image out of this user's queue for
    the rest of the session (or put it back, when a skip is undone)."""
    project, _ = _project_for(request, pk, Role.ANNOTATOR)
    body = _json_body(request)
    image = _project_image(project, _int_field(body, "image"))
    skipped = [image_id for image_id in _skipped_ids(request, project) if image_id != image.pk]
    if body.get("skip", True):
        skipped.append(image.pk)
    # A bounded list: the session is stored on every request that changes it.
    request.session[_skipped_key(project)] = skipped[-2000:]
    return JsonResponse({"image": image.pk, "skipped": len(skipped)})


# --- Grid and gallery --------------------------------------------------------------------------

GRID_PAGE_SIZE = 48


class GalleryFilterForm(ImageFilterForm, PredictionFilterForm):
    """The grid's and gallery's filters: labeling's, then the classifier's prediction
    filters."""

    field_order = [*ImageFilterForm.base_fields, *PredictionFilterForm.base_fields]


def _project_images(request: HttpRequest, pk: int, *, selectable: bool) -> HttpResponse:
    """A page of thumbnails with filters. The grid (annotators) selects and labels them;
    the gallery (every member) only browses."""
    project, role = _project_for(request, pk, Role.ANNOTATOR if selectable else Role.VIEWER)
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
    project, _ = _project_for(request, pk, Role.ANNOTATOR)
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
    return _redirect_back(request, reverse("labeling:project-grid", args=[project.pk]))


# --- Image page --------------------------------------------------------------------------------


@require_GET
def image_detail(request: HttpRequest, pk: int) -> HttpResponse:
    image, role = _image_for(request, pk)
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
    image, _ = _image_for(request, pk, Role.OWNER)
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
    return _redirect_back(request, reverse("labeling:image-detail", args=[image.pk]))


@require_POST
def image_split(request: HttpRequest, pk: int) -> HttpResponse:
    image, _ = _image_for(request, pk, Role.OWNER)
    form = SplitForm(request.POST)
    if form.is_valid():
        services.images_split_set(image_ids=[image.pk], split=form.cleaned_data["split"])
        messages.success(request, f"Moved to {Split(form.cleaned_data['split']).label.lower()}.")
    else:
        messages.error(request, "Pick train, validation or test.")
    return _redirect_back(request, reverse("labeling:image-detail", args=[image.pk]))


# --- Media: image files for members only -------------------------------------------------------

_CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
}
# Stored files never change (their names are their sha256), so a member's browser may keep
# them; "private" keeps them out of shared caches.
MEDIA_MAX_AGE = 3600
# Signed S3 URLs expire (AWS_QUERYSTRING_EXPIRE, default 300 s); the redirect to one must not
# be cached for longer than that.
SIGNED_REDIRECT_MAX_AGE = 60
# A stored file is an image whatever its bytes hold, and is never a document that runs
# anything: opened on its own, it gets no scripts, no plugins, no same-origin rights.
MEDIA_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
)


def _download_name(image: Image, extension: str) -> str:
    """The name a browser saves the file under: the uploaded name (cleaned at ingest) with the
    stored file's extension, which may differ (a BMP is stored as PNG)."""
    base = image.original_name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return f"{stem.strip() or 'image'}.{extension}"


def _stored_file_response(field_file, *, content_type: str, filename: str) -> HttpResponse:
    """The stored file with a Content-Type from the format ingest recorded (never guessed
    from bytes or names), nosniff, a sandboxing CSP, and the file's name in
    Content-Disposition, encoded as RFC 6266 asks."""
    storage, name = field_file.storage, field_file.name
    disposition = content_disposition_header(as_attachment=False, filename=filename)
    if getattr(storage, "querystring_auth", False):
        # S3 with signed URLs: the browser fetches the object itself, for a few minutes only;
        # the signed URL makes the store answer with our type and name.
        url = storage.url(
            name,
            parameters={
                "ResponseContentType": content_type,
                "ResponseContentDisposition": disposition,
            },
        )
        response = HttpResponseRedirect(url)
        patch_cache_control(response, private=True, max_age=SIGNED_REDIRECT_MAX_AGE)
        return response
    try:
        handle = storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("The stored file is missing.") from None
    response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = MEDIA_CONTENT_SECURITY_POLICY
    patch_cache_control(response, private=True, max_age=MEDIA_MAX_AGE)
    return response


def _image_content_type(image: Image) -> str:
    # A format ingest does not store (none today) would be bytes to download, never a page.
    return _CONTENT_TYPES.get(image.format.upper(), "application/octet-stream")


def _original_response(image: Image) -> HttpResponse:
    extension = export.EXTENSIONS.get(image.format.upper(), "bin")
    return _stored_file_response(
        image.file,
        content_type=_image_content_type(image),
        filename=_download_name(image, extension),
    )


@require_GET
def image_file(request: HttpRequest, pk: int) -> HttpResponse:
    image, _ = _image_for(request, pk)
    return _original_response(image)


@require_GET
def image_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    image, _ = _image_for(request, pk)
    if not image.thumbnail:
        return _original_response(image)
    return _stored_file_response(
        image.thumbnail,
        content_type="image/jpeg",  # ingest writes every thumbnail as JPEG
        filename=_download_name(image, "thumbnail.jpg"),
    )
