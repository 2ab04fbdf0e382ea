from django.shortcuts import render

from labeling.selectors import projects_visible_to


def home(request):
    projects = projects_visible_to(user=request.user)
    return render(request, "labeling/home.html", {"projects": projects})
