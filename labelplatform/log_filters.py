"""Logging filters used by both logging configurations (settings.base and
labelplatform.structured_logging). Django-free, like structured_logging."""

import logging

# django.request logs every PermissionDenied as a warning with the exception attached, so
# each 403 (a viewer opening an owner's page, a user outside a project) printed a full
# traceback of the permission check: noise around an expected answer.
FORBIDDEN = 403


class ForbiddenWithoutTraceback(logging.Filter):
    """A 403 from django.request as one line: "Forbidden (Permission denied): /path - the
    reason", the reason taken from the exception, which is then dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) != FORBIDDEN or not record.exc_info:
            return True
        reason = str(record.exc_info[1] or "").strip()
        if reason:
            record.msg = f"{record.getMessage()} - {reason}"
            record.args = ()
        record.exc_info = None
        record.exc_text = None
        return True
