from django.urls import path

from labeling import views

urlpatterns = [
    path("", views.home, name="home"),
]
