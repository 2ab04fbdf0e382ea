"""Forms of the labeling pages. They validate input; the services in labeling.services write."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.formsets import DELETION_FIELD_NAME

from labeling.models import LabelClass, LabelStatus, Project, Role, Split
from labeling.services import DEFAULT_CLASS_COLORS, label_class_color_checked

SPLIT_AUTO = "auto"


class ColorInput(forms.TextInput):
    input_type = "color"


class BootstrapForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes, so templates render fields as they are."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bootstrap_widgets()

    def bootstrap_widgets(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select):
                css = "form-select"
            elif isinstance(widget, ColorInput):
                css = "form-control form-control-color"
            elif isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.HiddenInput):
                continue
            else:
                css = "form-control"
            if css not in widget.attrs.get("class", ""):
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


class ProjectForm(BootstrapForm):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    train_percent = forms.IntegerField(min_value=0, max_value=100, initial=60, label="Train")
    validation_percent = forms.IntegerField(
        min_value=0, max_value=100, initial=20, label="Validation"
    )
    test_percent = forms.IntegerField(min_value=0, max_value=100, initial=20, label="Test")
    annotations_per_image = forms.IntegerField(
        min_value=1,
        max_value=20,
        initial=1,
        help_text="How many people label each image; a strict majority decides.",
    )

    def clean(self):
        data = super().clean()
        percents = [data.get(f"{split}_percent") for split in Split.values]
        if None not in percents and sum(percents) != 100:
            raise ValidationError("The split ratios must add up to 100.")
        return data

    @property
    def split_ratios(self) -> dict[str, int]:
        return {split: self.cleaned_data[f"{split}_percent"] for split in Split.values}


class ProjectSettingsForm(ProjectForm):
    """An existing project's settings on its settings page: ProjectForm's fields, then the
    Project fields named in OTHER_SETTINGS, each with its model field's own form field,
    shown under "More settings" and saved through project_update(other_settings=...).

    To put a new Project setting on the page, add its field name to OTHER_SETTINGS: the
    form, the page and the save follow (the field's verbose_name and help_text are its
    label and explanation)."""

    OTHER_SETTINGS: tuple[str, ...] = (
        "suggestions_train",
        "suggestions_validation",
        "suggestions_test",
        "queue_strategy",
        "gold_percent",
        "promotion_recall_margin",
        "unsure_threshold",
    )

    def __init__(self, *args, project: Project, **kwargs):
        names = [*ProjectForm.base_fields, *self.OTHER_SETTINGS]
        kwargs.setdefault("initial", {name: getattr(project, name) for name in names})
        super().__init__(*args, **kwargs)
        for name in self.OTHER_SETTINGS:
            model_field = Project._meta.get_field(name)
            # Every other setting is an editable column of Project, so it has a form field.
            assert isinstance(model_field, models.Field)
            form_field = model_field.formfield()
            assert form_field is not None
            self.fields[name] = form_field
        self.bootstrap_widgets()

    @property
    def other_setting_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.OTHER_SETTINGS]

    @property
    def other_settings(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.OTHER_SETTINGS}


def offer_project_classes(field: forms.Field, project: Project) -> None:
    """Let a class choice, declared with no choices (LabelClass.objects.none()), offer the
    project's classes."""
    assert isinstance(field, forms.ModelChoiceField)
    field.queryset = project.classes.all()


class LabelClassForm(BootstrapForm):
    name = forms.CharField(
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": "e.g. coffee", "aria-label": "Class name"}),
    )
    key = forms.CharField(
        max_length=1,
        required=False,
        help_text="The key that picks this class on the labeling page (default 1, 2, …).",
        widget=forms.TextInput(attrs={"placeholder": "Key", "aria-label": "Key"}),
    )
    color = forms.CharField(
        max_length=7,
        required=False,
        widget=ColorInput(attrs={"aria-label": "Colour", "title": "Colour"}),
    )

    def clean_key(self) -> str:
        key = self.cleaned_data["key"].strip().lower()
        # S and Z are the labeling page's skip and undo keys.
        if key in {"s", "z"}:
            raise ValidationError("S and Z are taken by skip and undo.")
        return key

    def clean_color(self) -> str:
        color = self.cleaned_data["color"].strip()
        return label_class_color_checked(color) if color else color


class BaseLabelClassFormSet(forms.BaseFormSet):
    default_error_messages = {
        "too_few_forms": "A project needs at least two label classes.",
        "too_many_forms": "A project has at most nine label classes (keys 1-9).",
    }

    def kept_forms(self) -> list[forms.Form]:
        """The rows that stay (the settings page's formset can mark rows to remove)."""
        return [
            form
            for form in self.forms
            if form.cleaned_data
            and not (self.can_delete and form.cleaned_data.get(DELETION_FIELD_NAME, False))
        ]

    def clean(self):
        if any(self.errors):
            return
        names = [form.cleaned_data["name"].strip().lower() for form in self.kept_forms()]
        keys = [form.cleaned_data["key"] for form in self.kept_forms() if form.cleaned_data["key"]]
        if len(set(names)) != len(names):
            raise ValidationError("Class names must be unique.")
        if len(set(keys)) != len(keys):
            raise ValidationError("Class keys must be unique.")

    def class_specs(self) -> list[dict]:
        """The classes as project_create (and label_classes_update) take them, rows marked
        for removal left out; blank keys and colours get defaults, ids are kept."""
        kept = self.kept_forms()
        taken_keys = {form.cleaned_data["key"] for form in kept if form.cleaned_data["key"]}
        free_keys = (key for key in "123456789" if key not in taken_keys)
        specs = []
        for index, form in enumerate(kept):
            data = form.cleaned_data
            spec = {
                "name": data["name"].strip(),
                "key": data["key"] or next(free_keys),
                "color": data["color"] or DEFAULT_CLASS_COLORS[index % len(DEFAULT_CLASS_COLORS)],
            }
            if data.get("id"):
                spec["id"] = data["id"]
            specs.append(spec)
        return specs


# formset_factory returns a subclass of its `formset` argument; django-stubs type the result as
# a bare BaseFormSet, which has no class_specs.
LabelClassFormSet: type[BaseLabelClassFormSet] = forms.formset_factory(  # type: ignore[assignment]
    LabelClassForm,
    formset=BaseLabelClassFormSet,
    extra=0,
    min_num=2,
    validate_min=True,
    max_num=9,
    validate_max=True,
)


class LabelClassEditForm(LabelClassForm):
    """A class row of the settings page: an existing class carries its id."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)


LabelClassEditFormSet: type[BaseLabelClassFormSet] = forms.formset_factory(  # type: ignore[assignment]
    LabelClassEditForm,
    formset=BaseLabelClassFormSet,
    extra=0,
    min_num=2,
    validate_min=True,
    max_num=9,
    validate_max=True,
    can_delete=True,
)


def label_class_formset_initial_of(project: Project) -> list[dict]:
    return [
        {"id": c.pk, "name": c.name, "key": c.key, "color": c.color} for c in project.classes.all()
    ]


class ProjectDeleteForm(BootstrapForm):
    """Deleting a project asks for its name, typed: no click deletes months of labels."""

    confirm_name = forms.CharField(
        label="Type the project's name to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project

    def clean_confirm_name(self) -> str:
        typed = self.cleaned_data["confirm_name"].strip()
        if typed != self.project.name:
            raise ValidationError(f"Type “{self.project.name}” exactly to delete this project.")
        return typed


def label_class_formset_initial() -> list[dict]:
    return [
        {"name": "", "key": str(index + 1), "color": DEFAULT_CLASS_COLORS[index]}
        for index in range(2)
    ]


class MemberAddForm(BootstrapForm):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise ValidationError(f"There is no user called {username!r}.")
        return user


class MemberRoleForm(BootstrapForm):
    role = forms.ChoiceField(choices=Role.choices)


class UploadForm(BootstrapForm):
    """The options of one upload batch; the files come from request.FILES.getlist("files")."""

    split = forms.ChoiceField(
        choices=[(SPLIT_AUTO, "Automatic (by the project's ratios)"), *Split.choices],
        initial=SPLIT_AUTO,
    )
    label = forms.ModelChoiceField(
        queryset=LabelClass.objects.none(),
        required=False,
        empty_label="No label (label them later)",
        to_field_name="pk",
    )

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        offer_project_classes(self.fields["label"], project)


class ReviewForm(BootstrapForm):
    """An owner's decision on an image; an empty class withdraws the decision."""

    label_class = forms.ModelChoiceField(queryset=LabelClass.objects.none(), required=False)

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        offer_project_classes(self.fields["label_class"], project)


class SplitForm(BootstrapForm):
    split = forms.ChoiceField(choices=Split.choices)


class FilterForm(BootstrapForm):
    """A row of small filters above a list of a project's images (GET, submitted as soon as
    one changes). Every class choice offers the project's classes. Subclasses declare the
    fields; the gallery's form combines the labeling filters with the classifier's
    (labeling.views.images)."""

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if (
                isinstance(field, forms.ModelChoiceField)
                and field.queryset is not None
                and field.queryset.model is LabelClass
            ):
                field.queryset = project.classes.all()
            field.widget.attrs.update({"data-autosubmit": "", "aria-label": field.label or ""})
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs["class"] += " form-select-sm" if is_select else " form-control-sm"

    def filters(self) -> dict:
        """The valid, non-empty filters; an invalid value is dropped rather than failing."""
        self.is_valid()
        return {
            name: value
            for name, value in getattr(self, "cleaned_data", {}).items()
            if value not in (None, "")
        }


class ImageFilterForm(FilterForm):
    """The labeling side's filters of the grid and gallery: the names
    labeling.selectors.images_filtered reads."""

    split = forms.ChoiceField(choices=[("", "All splits"), *Split.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *LabelStatus.choices], required=False)
    label = forms.ModelChoiceField(
        queryset=LabelClass.objects.none(), required=False, empty_label="Any label"
    )
    mine = forms.ChoiceField(
        choices=[
            ("", "Anyone's"),
            ("unlabeled", "Not labeled by me"),
            ("labeled", "Labeled by me"),
        ],
        required=False,
    )


class ImageIdsField(forms.Field):
    """Many image ids from repeated form values (checkboxes named alike)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": "Select at least one image.", "invalid": "Bad image id."}

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        if not all(str(item).isdigit() for item in value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return [int(item) for item in value]


class GridApplyForm(BootstrapForm):
    """Apply one class to the selected images of the grid. Ids of other projects' images are
    ignored by annotations_create_bulk, so they need no check here."""

    image_ids = ImageIdsField()
    label_class = forms.ModelChoiceField(queryset=LabelClass.objects.none())

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        offer_project_classes(self.fields["label_class"], project)
