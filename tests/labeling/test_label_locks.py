"""Labeling locks the image it labels, not its project: on PostgreSQL, a label goes through
while another transaction holds the project's row (a settings change, a promotion), and
labels of other images never wait on each other. Locking the project row too (FOR UPDATE
over the image-project join) made the soak's ten annotators deadlock against those."""

import threading

import pytest
from django.db import connection, transaction

from labeling.models import Annotation, Project
from labeling.services import annotation_create
from tests.factories import ImageFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
]


def holding_the_project_row(project: Project, *, held: threading.Event, done: threading.Event):
    """A thread (its own connection) that locks the project's row until `done`."""

    def hold() -> None:
        from django.db import connections

        try:
            with transaction.atomic():
                Project.objects.select_for_update().get(pk=project.pk)
                held.set()
                done.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


def test_a_label_goes_through_while_the_project_row_is_locked(project, owner):
    image = ImageFactory(project=project)
    held, done = threading.Event(), threading.Event()
    thread = holding_the_project_row(project, held=held, done=done)
    try:
        assert held.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        annotation_create(image=image, user=owner, label_class=project.classes.first())
    finally:
        done.set()
        thread.join()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
    assert Annotation.objects.filter(image=image, user=owner).exists()
