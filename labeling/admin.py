"""The Django admin for the labeling side: staff administer every project here.

Writes go through labeling.services, as everywhere else, so the admin keeps the same rules
(a project keeps an owner, consensus follows every annotation change, a review is final).
Images only come in through ingest (upload page, API, import_images), which validates them,
so the admin cannot add one. Pictures are shown through the permission-checked media views,
never through a public media URL.

Project and Image are registered here once, with the classifier's columns, actions and
predictions inline mixed in from classifier.admin.for_labeling and named below (the admin
is a page that shows both apps). The HTML is in templates/admin/labeling/, its style in
static/css/app.css.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.template.response import TemplateResponse

from classifier.admin.for_labeling import (
    ImagePredictionsAdmin,
    PredictionInline,
    ProjectModelsAdmin,
)
from labeling import services
from labeling.models import (
    Annotation,
    Image,
    LabelClass,
    LabelStatus,
    Membership,
    Project,
    Role,
    Split,
)

# The admin has no Bootstrap: app.css's admin section styles thumbnails and swatches.
ADMIN_CSS = {"all": ["css/app.css"]}


def thumbnail_tag(image_id: int, height: int) -> str:
    """A thumbnail `height` pixels high (40, 48, 64 or 256: app.css's sizes)."""
    return render_to_string(
        "admin/labeling/_thumbnail.html", {"image_id": image_id, "height": height}
    )


def count_of(model, **filters) -> Coalesce:
    """A per-project row count as a subquery: several counts without multiplying joins."""
    rows = (
        model.objects.filter(project=OuterRef("pk"), **filters)
        .order_by()
        .values("project")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def adopt_saved_row(obj, saved) -> None:
    """The admin goes on with the object its form built (for the log and the redirect);
    give it the row that the service wrote."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


# --- Projects, their classes and members ---------------------------------------------------


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    fields = ["name", "key", "color", "order"]
    extra = 0
    # Deleting a class would drop its annotations and leave images "labeled" with no label;
    # there is no service that re-settles them yet, so classes are only renamed or added.
    can_delete = False
    formfield_overrides = {
        LabelClass._meta.get_field("color"): {"widget": forms.TextInput(attrs={"type": "color"})}
    }


class MembershipInlineFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(self.errors):
            return
        roles = [
            form.cleaned_data.get("role")
            for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form)
        ]
        if Role.OWNER not in roles:
            raise ValidationError("A project needs at least one owner.")


class MembershipInline(admin.TabularInline):
    model = Membership
    formset = MembershipInlineFormSet
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]
    extra = 0


class ProjectCreateForm(forms.ModelForm):
    classes = forms.CharField(
        help_text="Class names separated by commas, two to nine (e.g. coffee, other); "
        "their keys on the labeling page are 1-9 in this order."
    )

    class Meta:
        model = Project
        fields = [
            "name",
            "description",
            "train_percent",
            "validation_percent",
            "test_percent",
            "annotations_per_image",
        ]

    def clean_classes(self) -> list[str]:
        # The same rules project_create enforces, checked here to show them on the form.
        names = [name.strip() for name in self.cleaned_data["classes"].split(",") if name.strip()]
        if not 2 <= len(names) <= 9:
            raise ValidationError("Give two to nine class names.")
        if len({name.lower() for name in names}) != len(names):
            raise ValidationError("Class names must be unique.")
        return names


@admin.register(Project)
class ProjectAdmin(ProjectModelsAdmin):
    """Projects with their classes and members; from the classifier (ProjectModelsAdmin):
    the active model column, the Retrain actions and the change page's Retrain button."""

    list_display = [
        "name",
        "class_names",
        "image_count",
        "labeled_count",
        "member_count",
        "split_ratios_display",
        "annotations_per_image",
        "created_by",
        "created_at",
        "active_model",
    ]
    list_filter = ["annotations_per_image", "created_at"]
    search_fields = ["name", "description"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_by", "created_at"]
    inlines = [LabelClassInline, MembershipInline]
    actions = ["retrain_selected", "fine_tune_selected"]

    def get_queryset(self, request) -> QuerySet[Project]:
        return (
            super()
            .get_queryset(request)
            .select_related("created_by")
            .prefetch_related("classes")
            .annotate(
                image_count=count_of(Image),
                labeled_count=count_of(Image, label_status=LabelStatus.LABELED),
                member_count=count_of(Membership),
            )
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ProjectCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        ratios = ("train_percent", "validation_percent", "test_percent")
        if obj is None:
            return ["name", "description", "classes", ratios, "annotations_per_image"]
        return ["name", "description", ratios, "annotations_per_image", "created_by", "created_at"]

    def get_inlines(self, request, obj):
        # A new project gets its classes from the form and its creator as owner.
        return self.inlines if obj is not None else []

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        split_ratios = {
            Split.TRAIN: data["train_percent"],
            Split.VALIDATION: data["validation_percent"],
            Split.TEST: data["test_percent"],
        }
        if change:
            services.project_update(
                project=obj,
                name=data["name"],
                description=data["description"],
                split_ratios=split_ratios,
                annotations_per_image=data["annotations_per_image"],
            )
            return
        project = services.project_create(
            name=data["name"],
            description=data["description"],
            created_by=request.user,
            classes=data["classes"],
            split_ratios=split_ratios,
            annotations_per_image=data["annotations_per_image"],
        )
        adopt_saved_row(obj, project)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        # Through membership_set/membership_remove, so the last-owner rule holds. New roles
        # first, removals last: swapping owners in one save never leaves the project ownerless.
        project = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        removals = []
        for member_form in formset.forms:
            old = member_form.instance if member_form.instance.pk else None
            if formset._should_delete_form(member_form):
                if old is not None:
                    removals.append(old.user)
                    formset.deleted_objects.append(old)
                continue
            if not member_form.has_changed():
                continue
            user, role = member_form.cleaned_data["user"], member_form.cleaned_data["role"]
            membership = services.membership_set(project=project, user=user, role=role)
            if old is None:
                formset.new_objects.append(membership)
            else:
                formset.changed_objects.append((membership, member_form.changed_data))
                if old.user_id != user.pk:
                    removals.append(old.user)
        for user in removals:
            services.membership_remove(project=project, user=user)

    @admin.display(description="classes")
    def class_names(self, project: Project) -> str:
        return ", ".join(label_class.name for label_class in project.classes.all())

    @admin.display(description="images", ordering="image_count")
    def image_count(self, project: Project) -> int:
        return project.image_count

    @admin.display(description="labeled", ordering="labeled_count")
    def labeled_count(self, project: Project) -> int:
        return project.labeled_count

    @admin.display(description="members", ordering="member_count")
    def member_count(self, project: Project) -> int:
        return project.member_count

    @admin.display(description="train / val / test")
    def split_ratios_display(self, project: Project) -> str:
        return f"{project.train_percent} / {project.validation_percent} / {project.test_percent}"


@admin.register(LabelClass)
class LabelClassAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "key", "swatch", "order", "labeled_images"]
    list_filter = ["project"]
    search_fields = ["name", "project__name"]
    list_select_related = ["project"]
    autocomplete_fields = ["project"]
    formfield_overrides = LabelClassInline.formfield_overrides

    class Media:
        css = ADMIN_CSS

    def get_queryset(self, request) -> QuerySet[LabelClass]:
        return (
            super()
            .get_queryset(request)
            .annotate(labeled_image_count=Count("images", filter=Q(images__label_status="labeled")))
        )

    def get_readonly_fields(self, request, obj=None):
        return ["project"] if obj is not None else []

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # see LabelClassInline.can_delete

    @admin.display(description="colour")
    def swatch(self, label_class: LabelClass) -> str:
        return render_to_string("admin/labeling/_swatch.html", {"color": label_class.color})

    @admin.display(description="labeled images", ordering="labeled_image_count")
    def labeled_images(self, label_class: LabelClass) -> int:
        return label_class.labeled_image_count


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["project", "user", "role"]

    def clean_role(self) -> str:
        role, old = self.cleaned_data["role"], self.instance
        if old.pk and old.role == Role.OWNER and role != Role.OWNER:
            others = Membership.objects.filter(project_id=old.project_id, role=Role.OWNER)
            if not others.exclude(pk=old.pk).exists():
                raise ValidationError("A project needs at least one owner.")
        return role


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    form = MembershipAdminForm
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "user__email", "project__name"]
    list_select_related = ["user", "project"]
    autocomplete_fields = ["project", "user"]

    def get_readonly_fields(self, request, obj=None):
        # Another user or project is another membership: add that one instead.
        return ["project", "user", "created_at"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        membership = services.membership_set(project=obj.project, user=obj.user, role=obj.role)
        adopt_saved_row(obj, membership)

    def has_delete_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.role == Role.OWNER and not self._another_owner(obj):
            return False  # the last owner stays; make someone else owner first
        return super().has_delete_permission(request, obj)

    def delete_model(self, request, obj):
        services.membership_remove(project=obj.project, user=obj.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("project", "user"):
            try:
                services.membership_remove(project=membership.project, user=membership.user)
            except ValidationError as error:
                self.message_user(request, f"{membership}: {error.messages[0]}", messages.ERROR)

    @staticmethod
    def _another_owner(membership: Membership) -> bool:
        owners = Membership.objects.filter(project_id=membership.project_id, role=Role.OWNER)
        return owners.exclude(pk=membership.pk).exists()


# --- Images and annotations --------------------------------------------------------------


class AnnotationInline(admin.TabularInline):
    model = Annotation
    fields = ["user", "label_class", "created_at", "updated_at"]
    readonly_fields = fields
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
        self.fields["label"].queryset = project.classes.all()


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
    def annotation_count(self, image: Image) -> int:
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

    list_display = ["image_thumbnail", "image", "project", "user", "label_class", "updated_at"]
    list_filter = ["image__project", "label_class__name", "updated_at"]
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
