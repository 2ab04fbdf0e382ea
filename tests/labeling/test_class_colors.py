"""A class colour is a #rrggbb colour wherever it is written: the model's validator (which the
admin's forms and the API's serializers use), the project service and the project form. It
lands in style= attributes, where escaping alone would still let it style anything."""

import re

import pytest
from django.core.exceptions import ValidationError

from labeling.api.serializers import LabelClassSerializer
from labeling.forms import LabelClassForm
from labeling.models import LabelClass
from labeling.services import project_create

NOT_COLOURS = ["red; background: url(//evil.example/x.png)", "#12345", "#1234567", "#gg0000"]
# What a form says first: a value too long for the field is refused for its length.
REFUSED = "six hex digits|at most 7 characters|is not a colour"


@pytest.mark.parametrize("color", NOT_COLOURS)
def test_the_model_refuses_a_colour_that_is_not_hex(project, color):
    label_class = LabelClass(project=project, name="tea", key="3", color=color)
    with pytest.raises(ValidationError, match=REFUSED):
        label_class.full_clean()


def test_the_model_takes_a_hex_colour(project):
    LabelClass(project=project, name="tea", key="3", color="#A0b1C2").full_clean()


@pytest.mark.parametrize("color", NOT_COLOURS)
def test_the_project_service_refuses_a_colour_that_is_not_hex(owner, color):
    with pytest.raises(ValidationError, match="six hex digits"):
        project_create(
            name="Tea",
            created_by=owner,
            classes=[{"name": "tea", "color": color}, {"name": "other"}],
        )
    assert not LabelClass.objects.filter(name="tea").exists()


@pytest.mark.parametrize("color", NOT_COLOURS)
def test_the_api_serializer_refuses_a_colour_that_is_not_hex(color):
    serializer = LabelClassSerializer(data={"name": "tea", "key": "3", "color": color})
    assert not serializer.is_valid()
    assert "color" in serializer.errors


@pytest.mark.parametrize("color", NOT_COLOURS)
def test_the_project_form_refuses_a_colour_that_is_not_hex(color):
    form = LabelClassForm(data={"name": "tea", "key": "3", "color": color})
    assert not form.is_valid()
    assert re.search(REFUSED, str(form.errors["color"]))
