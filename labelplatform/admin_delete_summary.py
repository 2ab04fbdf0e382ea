"""A delete confirmation that counts instead of listing, for the admins of rows that own many
others (projects, model versions)."""

from django.db.models import CASCADE


class CountedDeleteSummary:
    """A ModelAdmin mixin: the delete confirmation page sums up what goes with the selected
    rows as counts per kind of row (CASCADE relations, `delete_summary_depth` levels deep),
    one indexed count query each. Django's own page lists every row it would delete: for a
    project or a model version of 100,000 images, tens of megabytes and seconds of queries,
    and the web worker kept the memory (bench/memory.py --growth)."""

    delete_summary_depth = 2

    def get_deleted_objects(self, objs, request):
        rows = list(objs)
        model_count: dict[str, int] = {}
        for lookup, model in _cascades(self.model, "", self.delete_summary_depth):
            name = str(model._meta.verbose_name_plural)
            if name in model_count:
                continue  # reached along two paths (data issues: project and image)
            count = model._default_manager.filter(**{f"{lookup}__in": rows}).count()
            if count:
                model_count[name] = count
        summary = ", ".join(f"{count} {name}" for name, count in model_count.items())
        to_delete = [f"{row} ({summary or 'nothing else'})" for row in rows]
        # Asked per row, as Django's own page does: an admin may refuse some rows (the
        # active model version) and the delete action must then refuse the whole selection.
        refused = any(not self.has_delete_permission(request, row) for row in rows)
        perms_needed = {str(self.model._meta.verbose_name)} if refused else set()
        own = str(self.model._meta.verbose_name_plural)
        return to_delete, {own: len(rows), **model_count}, perms_needed, []


def _cascades(model, prefix: str, depth: int):
    """(lookup from the related model back to `model`'s rows, related model) for every
    CASCADE foreign key into `model`, then into those, `depth` levels."""
    if depth == 0:
        return
    for relation in model._meta.related_objects:
        if not (relation.one_to_many and relation.on_delete is CASCADE):
            continue
        lookup = relation.field.name + (f"__{prefix}" if prefix else "")
        yield lookup, relation.related_model
        yield from _cascades(relation.related_model, lookup, depth - 1)
