from django.http import Http404
from django.urls import path

from labeling import views


def _media_view_pending(request, pk: int):
    raise Http404("The media view has not been merged yet.")


urlpatterns = [
    path("", views.home, name="home"),
    # TEMPORARY (branch api): the web work adds the permission-checked media views under these
    # two names; the API and the admin reverse them. These never serve a file. Drop them when
    # the real views land on main.
    path("media/images/<int:pk>/", _media_view_pending, name="image-file"),
    path("media/thumbnails/<int:pk>/", _media_view_pending, name="image-thumbnail"),
]
