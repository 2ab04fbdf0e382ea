"""The upload page: one batch of files per POST, a verdict per file."""

from django.conf import settings
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from labeling.api.serializers import ImagePageSerializer
from labeling.forms import UploadForm
from labeling.ingest import IncomingFile, IngestReport, image_ingest, storage_failure_detail
from labeling.models import Image, Role
from labeling.permissions import AuthenticatedHttpRequest, project_for_user

UPLOAD_AGAIN_LATER = "Upload the others again later: the ones stored are reported as duplicates."


@require_http_methods(["GET", "POST"])
def project_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The upload page. POST takes one batch of files (the page sends a few per request)
    and answers with each file's verdict: JSON for the page's script, or the page itself
    with a verdict table for a plain form submission."""
    project, role = project_for_user(user=request.user, pk=pk, needed=Role.ANNOTATOR)
    if request.method == "GET":
        return _upload_page(request, project, role, UploadForm(project=project))

    wants_json = request.accepts("application/json") and not request.accepts("text/html")
    try:
        # Parsed before the view by labelplatform.upload_spool, which keeps its error.
        parse_error = getattr(request, "upload_parse_error", None)
        if parse_error is not None:
            raise parse_error
        files = request.FILES.getlist("files")
    except MultiPartParserError as error:
        # A malformed body, or a file name of about 900 characters or more: Django refuses
        # part headers over 1 KB before any view sees them.
        files, unreadable = [], f"The upload could not be read ({error})."
    else:
        unreadable = ""
    form = UploadForm(request.POST, project=project)
    if unreadable or not form.is_valid() or not files:
        detail = " ".join(str(e) for errors in form.errors.values() for e in errors)
        detail = unreadable or detail or "Choose at least one file."
        if wants_json:
            return JsonResponse({"detail": detail}, status=400)
        messages.error(request, detail)
        return _upload_page(request, project, role, form, status=400)

    report = image_ingest(
        project=project,
        uploaded_by=request.user,
        files=[_incoming(upload) for upload in files],
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


def _incoming(upload: UploadedFile) -> IncomingFile:
    # Django's multipart parser leaves out a file part without a file name.
    assert upload.name is not None
    return IncomingFile(name=upload.name, file=upload)


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


def _upload_verdicts(report: IngestReport) -> dict:
    """Each file's verdict; stored images (new, or the ones a file duplicates) in the API's
    shape of an image, read again with their labels (the uploader's annotation may have
    set a new image's consensus label)."""
    ids = [image.pk for image in report.created] + [image.pk for _, image in report.duplicates]
    images = {image.pk: image for image in Image.objects.filter(pk__in=ids).select_related("label")}

    def image_json(image: Image) -> dict:
        return ImagePageSerializer(images.get(image.pk, image)).data

    return {
        "created": [image_json(image) for image in report.created],
        "duplicates": [
            {"name": name, "of": image_json(image)} for name, image in report.duplicates
        ],
        "rejected": [{"name": name, "error": error} for name, error in report.rejected],
    }
