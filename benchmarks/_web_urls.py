"""The URLs of the Django contenders of ``benchmarks.web``: an authenticated ``GET /me``."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import path


def me(request: HttpRequest) -> JsonResponse:
    user = getattr(request, "user", None)
    if user is None:  # the floor: no session, no user
        return JsonResponse({"user_id": "1337"})
    if not user.is_authenticated:
        return JsonResponse({"user_id": None}, status=401)
    return JsonResponse({"user_id": str(user.pk)})


def login(request: HttpRequest) -> JsonResponse:
    from django.contrib.auth import get_user_model
    from django.contrib.auth import login as django_login

    django_login(request, get_user_model().objects.get(pk=1337))
    return JsonResponse({})


urlpatterns = [path("me", me), path("login", login)]
