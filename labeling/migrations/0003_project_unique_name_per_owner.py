"""Project names unique per owner (case aside). Existing duplicates are renamed first: the
oldest project keeps its name, the others get " (2)", " (3)", ... (a number no project of
that owner uses yet), so nothing is lost and the constraint can be added."""

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models

NAME_MAX_LENGTH = 200


def rename_duplicates(apps, schema_editor):
    Project = apps.get_model("labeling", "Project")
    taken: dict[int | None, set[str]] = {}
    for owner_id, name in Project.objects.values_list("created_by_id", "name"):
        taken.setdefault(owner_id, set()).add(name.lower())
    seen: set[tuple[int | None, str]] = set()
    for project in Project.objects.exclude(created_by=None).order_by("created_at", "id"):
        key = (project.created_by_id, project.name.lower())
        if key not in seen:
            seen.add(key)
            continue
        names = taken[project.created_by_id]
        number = 2
        while True:
            suffix = f" ({number})"
            candidate = project.name[: NAME_MAX_LENGTH - len(suffix)] + suffix
            if candidate.lower() not in names:
                break
            number += 1
        names.add(candidate.lower())
        seen.add((project.created_by_id, candidate.lower()))
        project.name = candidate
        project.save(update_fields=["name"])


class Migration(migrations.Migration):
    dependencies = [
        ("labeling", "0002_image_list_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rename_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="project",
            constraint=models.UniqueConstraint(
                models.F("created_by"),
                django.db.models.functions.text.Lower("name"),
                name="project_unique_name_per_owner",
                violation_error_message="This owner already has a project with this name.",
            ),
        ),
    ]
