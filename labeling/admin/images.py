"""The images' admin, with their annotations (and, from classifier.admin.for_labeling,
their predictions), and the annotations' own admin."""

from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count, QuerySet
from django.template.loader import render_to_string
from django.template.response import TemplateResponse

from classifier.admin.for_labeling import (
    ImagePredictionsAdmin,
    PredictionInline,
)
from labeling import services
from labeling.admin.base import ADMIN_CSS, thumbnail_tag
from labeling.forms import offer_project_classes
from labeling.models import (
    Annotation,
    Image,
    LabelClass,
    Project,
    Split,
)

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class AnnotationTotal(TypedDict):
    """What ImageAdmin.get_queryset annotates each image with."""

    annotation_total: int


class AnnotationInline(admin.TabularInline):
    model = Annotation
    fields = readonly_fields = (
        "user",
        "label_class",
        "from_suggestion",
        "created_at",
        "updated_at",
    )
    extra = 0
    can_delete = True  # through annotation_delete, see ImageAdmin.save_formset

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "label_class")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ImageAdminForm(forms.ModelForm):
    class Meta:
        model = Image
        fields = ["split", "label"]
        help_texts = {
            "label": "Changing it records a review decision: final, whatever the annotations "
            "say. Clearing it returns the image to the annotators' consensus.",
        }


class SetLabelForm(forms.Form):
    label = forms.ModelChoiceField(queryset=LabelClass.objects.none(), empty_label=None)

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        offer_project_classes(self.fields["label"], project)


def move_to_split_action(split: Split):
    def move_to_split(modeladmin, request, queryset):
        moved = services.images_split_set(
            image_ids=list(queryset.values_list("pk", flat=True)), split=split
        )
        modeladmin.message_user(
            request, f"Moved {moved} image(s) to the {split.label.lower()} split.", messages.SUCCESS
        )

    move_to_split.__name__ = f"move_to_{split.value}"
    return admin.action(
        move_to_split,
        description=f"Move to the {split.label.lower()} split",
        permissions=["change"],
    )


@admin.register(Image)
class ImageAdmin(ImagePredictionsAdmin):
    """Images with their annotations; from the classifier (ImagePredictionsAdmin): the
    active version's prediction column, every version's predictions inline and the Predict
    selected action."""

    form = ImageAdminForm
    list_display = [
        "list_thumbnail",
        "original_name",
        "project",
        "split",
        "label",
        "label_status",
        "label_reviewed",
        "annotation_count",
        "dimensions",
        "format",
        "uploaded_by",
        "created_at",
        "active_prediction",
    ]
    list_display_links = ["list_thumbnail", "original_name"]
    list_filter = [
        "project",
        "split",
        "label_status",
        "label_reviewed",
        "label__name",
        "format",
        "created_at",
    ]
    search_fields = ["original_name", "sha256", "project__name"]
    list_select_related = ["project", "label", "uploaded_by"]
    date_hierarchy = "created_at"
    list_per_page = 100
    fields = [
        "preview",
        "project",
        "original_name",
        "split",
        "label",
        "label_status",
        "label_reviewed",
        "sha256",
        ("width", "height", "format"),
        "uploaded_by",
        "created_at",
    ]
    readonly_fields = [
        "preview",
        "project",
        "original_name",
        "label_status",
        "label_reviewed",
        "sha256",
        "width",
        "height",
        "format",
        "uploaded_by",
        "created_at",
    ]
    inlines = [AnnotationInline, PredictionInline]
    actions = [
        *(move_to_split_action(split) for split in Split),
        "set_label",
        "withdraw_review",
        "predict_selected",
    ]

    class Media:
        css = ADMIN_CSS

    def get_queryset(self, request) -> QuerySet[Image]:
        return super().get_queryset(request).annotate(annotation_total=Count("annotations"))

    def has_add_permission(self, request) -> bool:
        return False  # images come in through ingest, which validates them

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            form.base_fields["label"].queryset = obj.project.classes.all()
        return form

    def save_model(self, request, obj, form, change):
        if "split" in form.changed_data:
            services.images_split_set(image_ids=[obj.pk], split=form.cleaned_data["split"])
        if "label" in form.changed_data:
            services.image_review(image=obj.pk, label_class=form.cleaned_data["label"])

    def save_formset(self, request, form, formset, change):
        # The annotation inline only deletes, through the service that re-settles consensus.
        formset.new_objects, formset.changed_objects = [], []
        formset.deleted_objects = [f.instance for f in formset.deleted_forms if f.instance.pk]
        for annotation in formset.deleted_objects:
            services.annotation_delete(image=form.instance.pk, user=annotation.user)

    # Not "thumbnail": the model's field of that name would win and print its storage path.
    @admin.display(description="")
    def list_thumbnail(self, image: Image) -> str:
        return thumbnail_tag(image.pk, 48)

    @admin.display(description="picture")
    def preview(self, image: Image) -> str:
        return render_to_string("admin/labeling/_preview.html", {"image_id": image.pk})

    @admin.display(description="annotations", ordering="annotation_total")
    def annotation_count(self, image: "WithAnnotations[Image, AnnotationTotal]") -> int:
        return image.annotation_total

    @admin.display(description="size")
    def dimensions(self, image: Image) -> str:
        return f"{image.width}\N{MULTIPLICATION SIGN}{image.height}"

    @admin.action(description="Set the label of the selected images…", permissions=["change"])
    def set_label(self, request, queryset):
        """Asks for the class on an intermediate page, then records it as a review decision."""
        projects = Project.objects.filter(pk__in=queryset.values("project_id"))
        if len(projects) != 1:
            self.message_user(
                request,
                f"The selected images belong to {len(projects)} projects "
                f"({', '.join(p.name for p in projects)}); classes belong to one project, "
                "so select images of one project to set their label.",
                messages.ERROR,
            )
            return None
        project = projects[0]
        form = SetLabelForm(request.POST if "apply" in request.POST else None, project=project)
        if form.is_valid():
            label = form.cleaned_data["label"]
            image_ids = list(queryset.order_by("pk").values_list("pk", flat=True))
            for image_id in image_ids:
                services.image_review(image=image_id, label_class=label)
            self.message_user(
                request,
                f"Set the label “{label.name}” on {len(image_ids)} image(s).",
                messages.SUCCESS,
            )
            return None
        count, shown = queryset.count(), 40
        context = {
            **self.admin_site.each_context(request),
            "title": "Set the label",
            "opts": self.model._meta,
            "project": project,
            "form": form,
            "count": count,
            "selected_ids": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "thumbnail_ids": list(queryset.values_list("pk", flat=True)[:shown]),
            "not_shown": max(count - shown, 0),
        }
        return TemplateResponse(request, "admin/labeling/image/set_label.html", context)

    @admin.action(
        description="Withdraw the review decision (back to the annotators' consensus)",
        permissions=["change"],
    )
    def withdraw_review(self, request, queryset):
        image_ids = list(
            queryset.filter(label_reviewed=True).order_by("pk").values_list("pk", flat=True)
        )
        for image_id in image_ids:
            services.image_review(image=image_id, label_class=None)
        self.message_user(
            request, f"Withdrew the review decision on {len(image_ids)} image(s).", messages.SUCCESS
        )


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    """Annotations are read here and may be deleted (an undo, through the service);
    labels are given on the labeling page or set by review on the image."""

    list_display = [
        "image_thumbnail",
        "image",
        "project",
        "user",
        "label_class",
        "from_suggestion",
        "updated_at",
    ]
    list_filter = ["image__project", "label_class__name", "from_suggestion", "updated_at"]
    search_fields = ["user__username", "image__original_name", "image__sha256"]
    list_select_related = ["image__project", "user", "label_class"]
    date_hierarchy = "updated_at"

    class Media:
        css = ADMIN_CSS

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj):
        services.annotation_delete(image=obj.image_id, user=obj.user)

    def delete_queryset(self, request, queryset):
        for annotation in queryset.select_related("user").order_by("image_id"):
            services.annotation_delete(image=annotation.image_id, user=annotation.user)

    @admin.display(description="")
    def image_thumbnail(self, annotation: Annotation) -> str:
        return thumbnail_tag(annotation.image_id, 40)

    @admin.display(description="project", ordering="image__project__name")
    def project(self, annotation: Annotation) -> Project:
        return annotation.image.project
