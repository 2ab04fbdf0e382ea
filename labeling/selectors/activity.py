"""A project's recent activity for its dashboard: labeling and uploads, per person and minute."""

from collections import Counter
from datetime import datetime

from django.db.models import (
    QuerySet,
)

from labeling.models import (
    Annotation,
    Image,
    Project,
)

# How many of the newest rows project_recent_activity reads; when they do not hold enough
# complete groups (a burst: hundreds labeled or uploaded in a few minutes), ten times as
# many, and so on. Few, because every row read is parsed and grouped in Python.
ACTIVITY_WINDOWS = (250, 2_500, 25_000, None)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _newest_groups(
    rows: QuerySet, *, at: str, person: str, fields: tuple[str, ...], limit: int
) -> list[list[dict]]:
    """The newest `limit` groups of the rows by (person, minute of `at`), newest first; each
    group is its rows as dicts of `at`, `person` and `fields`, newest first.

    Reads the newest rows only, as many as it takes: a group is complete when its minute is
    newer than the oldest row read, since no older row can belong to it. An aggregate over
    every row of a 10,000-image project instead took most of a second on SQLite, which
    truncates timestamps with a Python function per row (bench/page_latency.py).
    """
    for window in ACTIVITY_WINDOWS:
        newest = rows.order_by(f"-{at}").values(at, person, *fields)
        read = list(newest[:window] if window else newest)
        cut = window is not None and len(read) == window  # older rows were left unread
        oldest_minute = _minute(read[-1][at]) if cut else None
        groups: dict[tuple, list[dict]] = {}
        for row in read:
            minute = _minute(row[at])
            if minute == oldest_minute:
                break  # that minute may go on in the rows left unread
            groups.setdefault((row[person], minute), []).append(row)
        if not cut or len(groups) >= limit:
            return sorted(groups.values(), key=lambda group: group[0][at], reverse=True)[:limit]
    raise AssertionError("the last window reads every row")


def project_recent_activity(*, project: Project, limit: int = 10) -> list[dict]:
    """The latest labeling and uploads, newest first, grouped per person and minute:
    [{"kind": "annotation", "at", "user", "count", "per_class": [{"name", "color", "count"}]}
    | {"kind": "upload", "at", "user", "count"}]. Two queries (more after a burst, see
    _newest_groups)."""
    labeling = [
        {
            "kind": "annotation",
            "user": group[0]["user__username"],
            "at": group[0]["updated_at"],
            "count": len(group),
            "per_class": [
                {"name": name, "color": color, "count": count}
                for (name, color), count in sorted(
                    Counter(
                        (row["label_class__name"], row["label_class__color"]) for row in group
                    ).items()
                )
            ],
        }
        for group in _newest_groups(
            Annotation.objects.filter(image__project=project),
            at="updated_at",
            person="user__username",
            fields=("label_class__name", "label_class__color"),
            limit=limit,
        )
    ]
    uploads = [
        {
            "kind": "upload",
            "user": group[0]["uploaded_by__username"] or "someone",
            "at": group[0]["created_at"],
            "count": len(group),
        }
        for group in _newest_groups(
            Image.objects.filter(project=project),
            at="created_at",
            person="uploaded_by__username",
            fields=(),
            limit=limit,
        )
    ]
    events = labeling + uploads
    events.sort(key=lambda event: event["at"], reverse=True)
    return events[:limit]
