import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import UserFactory


@pytest.fixture
def staff(db):
    return UserFactory(username="stella-staff", is_staff=True)


@pytest.fixture
def api_as(db):
    """An APIClient that authenticates as the user with their token (anonymous for None)."""

    def client_for(user) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for
