"""The projects' admin, with their classes and members; the classifier's columns and
actions for projects come from classifier.admin.for_labeling."""

from typing import TYPE_CHECKING, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string

from classifier.admin.for_labeling import (
    ProjectModelsAdmin,
)
from labeling import services
from labeling.admin.base import ADMIN_CSS, adopt_saved_row
from labeling.models import (
    Image,
    LabelClass,
    LabelStatus,
    Membership,
    Project,
    QueueStrategy,
    Role,
    Split,
)
from labelplatform.admin_delete_summary import CountedDeleteSummary

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class ProjectCounts(TypedDict):
    """What ProjectAdmin.get_queryset annotates each project with."""

    image_count: int
    labeled_count: int
    member_count: int


class LabeledImageCount(TypedDict):
    """What LabelClassAdmin.get_queryset annotates each class with."""

    labeled_image_count: int


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


class LabelClassInline(admin.TabularInline):
    model = LabelClass
    fields = ["name", "key", "color", "order"]
    extra = 0
    # Deleting a class would drop its annotations and leave images "labeled" with no label;
    # there is no service that re-settles them yet, so classes are only renamed or added.
    can_delete = False


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


class ProjectNameForm(forms.ModelForm):
    """The admin's project forms check that the owner has no other project of that name (the
    project_unique_name_per_owner constraint), which the ModelForm's own validation skips:
    the owner (created_by) is not one of its fields. ProjectAdmin.get_form sets `owner`."""

    owner = None

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.owner is not None:
            same_name = Project.objects.filter(created_by=self.owner, name__iexact=name)
            existing = same_name.exclude(pk=self.instance.pk).first()
            if existing is not None:
                raise ValidationError(
                    f"{self.owner.get_username()} already has a project called “{existing.name}”. "
                    "Choose another name."
                )
        return name


class ProjectCreateForm(ProjectNameForm):
    # Optional, so a form without it (older clients, scripts) gets the default order.
    queue_strategy = forms.ChoiceField(
        choices=QueueStrategy.choices,
        required=False,
        initial=Project._meta.get_field("queue_strategy").default,
        help_text="The order of the labeling queue.",
    )
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
            "queue_strategy",
            "suggestions_train",
            "suggestions_validation",
            "suggestions_test",
        ]

    def clean_classes(self) -> list[str]:
        # The same rules project_create enforces, checked here to show them on the form.
        names = [name.strip() for name in self.cleaned_data["classes"].split(",") if name.strip()]
        if not 2 <= len(names) <= 9:
            raise ValidationError("Give two to nine class names.")
        if len({name.lower() for name in names}) != len(names):
            raise ValidationError("Class names must be unique.")
        return names


# Whether annotators see the model's suggestions, per split (Project.suggestion_splits).
SUGGESTION_FIELDS = {split: f"suggestions_{split}" for split in Split.values}


@admin.register(Project)
class ProjectAdmin(CountedDeleteSummary, ProjectModelsAdmin):
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
    list_filter = ["annotations_per_image", "queue_strategy", "created_at"]
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

    form = ProjectNameForm

    # Deleting projects goes through the service, as on the settings page: it also deletes
    # the stored files of every row it deletes (images, thumbnails, model artifacts), which
    # the admin's own delete would leave behind.
    def delete_model(self, request, obj: Project) -> None:
        services.project_delete(project=obj)

    def delete_queryset(self, request, queryset: QuerySet[Project]) -> None:
        for project in queryset:
            services.project_delete(project=project)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ProjectCreateForm
        form = super().get_form(request, obj, change=change, **kwargs)
        # A new project's owner is the staff member creating it (project_create).
        form.owner = request.user if obj is None else obj.created_by
        return form

    def get_fields(self, request, obj=None):
        ratios = ("train_percent", "validation_percent", "test_percent")
        suggestions = tuple(SUGGESTION_FIELDS.values())
        if obj is None:
            return [
                "name", "description", "classes", ratios, "annotations_per_image",
                suggestions, "queue_strategy",
            ]  # fmt: skip
        return [
            "name",
            "description",
            ratios,
            "annotations_per_image",
            "gold_percent",
            *self.classifier_fields,
            suggestions,
            "queue_strategy",
            "created_by",
            "created_at",
        ]

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
        suggestions = {split: data[field] for split, field in SUGGESTION_FIELDS.items()}
        if change:
            services.project_update(
                project=obj,
                name=data["name"],
                description=data["description"],
                split_ratios=split_ratios,
                annotations_per_image=data["annotations_per_image"],
            )
            services.project_gold_percent_set(project=obj, gold_percent=data["gold_percent"])
            self.classifier_settings_save(obj, data)
            services.project_queue_strategy_set(project=obj, strategy=data["queue_strategy"])
            services.project_suggestions_set(project=obj, splits=suggestions)
            return
        project = services.project_create(
            name=data["name"],
            description=data["description"],
            created_by=request.user,
            classes=data["classes"],
            split_ratios=split_ratios,
            annotations_per_image=data["annotations_per_image"],
            queue_strategy=data.get("queue_strategy") or None,
            suggestions=suggestions,
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
    def image_count(self, project: "WithAnnotations[Project, ProjectCounts]") -> int:
        return project.image_count

    @admin.display(description="labeled", ordering="labeled_count")
    def labeled_count(self, project: "WithAnnotations[Project, ProjectCounts]") -> int:
        return project.labeled_count

    @admin.display(description="members", ordering="member_count")
    def member_count(self, project: "WithAnnotations[Project, ProjectCounts]") -> int:
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
    def labeled_images(self, label_class: "WithAnnotations[LabelClass, LabeledImageCount]") -> int:
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
