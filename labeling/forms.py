"""Forms of the labeling pages. They validate input; the services in labeling.services write."""

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from labeling.models import LabelClass, LabelStatus, Project, Role, Split, class_color_validator
from labeling.services import DEFAULT_CLASS_COLORS

SPLIT_AUTO = "auto"


class ColorInput(forms.TextInput):
    input_type = "color"


class BootstrapForm(forms.Form):
    """A form whose widgets carry Bootstrap's classes, so templates render fields as they are."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select):
                css = "form-select"
            elif isinstance(widget, ColorInput):
                css = "form-control form-control-color"
            else:
                css = "form-control"
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
        if color:
            class_color_validator(color)
        return color


class BaseLabelClassFormSet(forms.BaseFormSet):
    def clean(self):
        if any(self.errors):
            return
        names = [
            form.cleaned_data["name"].strip().lower() for form in self.forms if form.cleaned_data
        ]
        keys = [form.cleaned_data["key"] for form in self.forms if form.cleaned_data.get("key")]
        if len(set(names)) != len(names):
            raise ValidationError("Class names must be unique.")
        if len(set(keys)) != len(keys):
            raise ValidationError("Class keys must be unique.")

    def class_specs(self) -> list[dict]:
        """The classes as project_create takes them; blank keys and colours get defaults."""
        taken_keys = {form.cleaned_data["key"] for form in self.forms if form.cleaned_data["key"]}
        free_keys = (key for key in "123456789" if key not in taken_keys)
        specs = []
        for index, form in enumerate(self.forms):
            data = form.cleaned_data
            specs.append(
                {
                    "name": data["name"].strip(),
                    "key": data["key"] or next(free_keys),
                    "color": data["color"]
                    or DEFAULT_CLASS_COLORS[index % len(DEFAULT_CLASS_COLORS)],
                }
            )
        return specs


LabelClassFormSet = forms.formset_factory(
    LabelClassForm,
    formset=BaseLabelClassFormSet,
    extra=0,
    min_num=2,
    validate_min=True,
    max_num=9,
    validate_max=True,
)


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
        self.fields["label"].queryset = project.classes.all()


class ReviewForm(BootstrapForm):
    """An owner's decision on an image; an empty class withdraws the decision."""

    label_class = forms.ModelChoiceField(queryset=LabelClass.objects.none(), required=False)

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["label_class"].queryset = project.classes.all()


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
            if isinstance(field, forms.ModelChoiceField) and field.queryset.model is LabelClass:
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
        self.fields["label_class"].queryset = project.classes.all()
