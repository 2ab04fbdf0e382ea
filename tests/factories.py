"""factory_boy factories for the domain. Images are real, small PNGs made by Pillow."""

import hashlib
import io

import factory
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from PIL import Image as PILImage

from labeling.models import Image, LabelClass, Membership, Project, Role, Split


def png_bytes(*, color=(200, 120, 40), size=(32, 24), seed: int = 0) -> bytes:
    """A valid PNG; different seeds give different bytes (and so different sha256)."""
    picture = PILImage.new("RGB", size, color)
    picture.putpixel((0, 0), (seed % 256, (seed // 256) % 256, (seed // 65536) % 256))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    """A project with two classes ("coffee" on key 1, "other" on key 2); the creator owns it."""

    class Meta:
        model = Project
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Project {n}")
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def classes(obj, create, extracted, **kwargs):
        if not create:
            return
        for order, name in enumerate(extracted or ["coffee", "other"]):
            LabelClass.objects.create(project=obj, name=name, key=str(order + 1), order=order)
        Membership.objects.get_or_create(
            project=obj, user=obj.created_by, defaults={"role": Role.OWNER}
        )


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    project = factory.SubFactory(ProjectFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.ANNOTATOR


class ImageFactory(factory.django.DjangoModelFactory):
    """An image row with a real stored PNG (bypasses ingest; for tests of other parts)."""

    class Meta:
        model = Image
        exclude = ("content",)

    project = factory.SubFactory(ProjectFactory)
    content = factory.Sequence(lambda n: png_bytes(seed=n + 1))
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(o.content).hexdigest())
    original_name = factory.Sequence(lambda n: f"image{n}.png")
    width = 32
    height = 24
    format = "PNG"
    split = Split.TRAIN
    uploaded_by = factory.LazyAttribute(lambda o: o.project.created_by)
    file = factory.LazyAttribute(lambda o: ContentFile(o.content, name="upload.png"))
    thumbnail = factory.LazyAttribute(lambda o: ContentFile(o.content, name="thumb.png"))
