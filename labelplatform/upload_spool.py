"""Uploads whose temporary spool fills up: answered 507 with nothing stored, not a 500.

Django keeps a small uploaded file in memory and writes a larger one to a temporary file
(FILE_UPLOAD_TEMP_DIR, /tmp by default) while the request body is read. When that disk fills,
the write raises OSError(ENOSPC) wherever the body happens to be parsed (the CSRF check, a
view, DRF), and the request ends in a 500 with a traceback. `SpoolFullAwareUploadHandler`
catches that error, deletes its partial file, marks the request and stops reading the upload;
`UploadSpoolFullMiddleware` then answers 507 before any view runs, so nothing of the request
is stored, like the other storage failures (labeling.ingest).
"""

from __future__ import annotations

import contextlib
import errno
import logging

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

# No space, or the user's quota on that disk.
DISK_FULL_ERRORS = {errno.ENOSPC, errno.EDQUOT}
RETRY_AFTER_SECONDS = 60
SPOOL_FULL_DETAIL = (
    "The server's temporary space for uploads is full: nothing was stored. Try again later, "
    "or with fewer files at a time."
)


class SpoolFullAwareUploadHandler(TemporaryFileUploadHandler):
    """TemporaryFileUploadHandler that turns a full disk into `request.upload_spool_full`."""

    def new_file(self, *args, **kwargs) -> None:
        with self._full_disk_stops_the_upload():
            super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        with self._full_disk_stops_the_upload():
            return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        # Seeking flushes the file's buffer: the last write can fail here.
        with self._full_disk_stops_the_upload():
            return super().file_complete(file_size)

    def _full_disk_stops_the_upload(self):
        return _FullDiskStopsTheUpload(self)


class _FullDiskStopsTheUpload:
    def __init__(self, handler: SpoolFullAwareUploadHandler):
        self.handler = handler

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if not isinstance(error, OSError) or error.errno not in DISK_FULL_ERRORS:
            return
        logger.warning("Upload spool full (%s): the request is answered 507", error)
        if self.handler.request is not None:
            self.handler.request.upload_spool_full = True  # type: ignore[attr-defined]
        partial = getattr(self.handler, "file", None)
        if partial is not None:
            with contextlib.suppress(OSError):
                partial.close()  # a temporary file: closing deletes it
        # Not a connection reset: the parser reads (and drops) the rest of the body, so the
        # client gets the answer instead of a broken pipe.
        raise StopUpload(connection_reset=False) from error


def upload_spool_full_response(request: HttpRequest) -> HttpResponse:
    """507 with Retry-After: the API's {"detail": ...} error, or a short page."""
    accepts_json = request.path_info.startswith("/api/") or (
        request.accepts("application/json") and not request.accepts("text/html")
    )
    if accepts_json:
        response: HttpResponse = JsonResponse({"detail": SPOOL_FULL_DETAIL}, status=507)
    else:
        page = render_to_string("503.html", {"detail": SPOOL_FULL_DETAIL})
        response = HttpResponse(page, status=507)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class UploadSpoolFullMiddleware:
    """Answers 507 to a multipart request whose upload could not be spooled, before its view.

    The body is parsed here at the latest (the CSRF check usually did already; the result is
    cached on the request, and DRF reuses it), after the login check, so an anonymous page
    request is redirected before its upload is read.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.content_type != "multipart/form-data":
            return None
        api = request.path_info.startswith("/api/")
        if api and not _reads_multipart(view_func):
            return None  # the API answers 415 itself: this endpoint reads JSON
        # Parses the body (cached): files go through the handler above.
        try:
            request.POST  # noqa: B018
        except (MultiPartParserError, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent) as e:
            if not api:
                # A page says it in its own words: Django hands the view an empty body now,
                # so the error goes with the request (labeling.views.upload).
                request.upload_parse_error = e
                return None
            # The API's error shape, as DRF words a parse error of its own.
            return JsonResponse({"detail": f"Multipart form parse error - {e}"}, status=400)
        if getattr(request, "upload_spool_full", False):
            return upload_spool_full_response(request)
        return None


def _reads_multipart(view_func) -> bool:
    """Whether a DRF view parses multipart bodies (its parser classes say so)."""
    view_class = getattr(view_func, "cls", None)
    parsers = getattr(view_class, "parser_classes", None)
    if parsers is None:
        return True  # not a DRF view: Django parses the body
    return any(parser.media_type.startswith("multipart/") for parser in parsers)
