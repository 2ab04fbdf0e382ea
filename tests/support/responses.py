"""What a response tells a test: the API's error shape, the messages a page flashed."""

from django.contrib.messages import get_messages


def assert_json_error(response, status: int) -> None:
    """The API's error shape: JSON with a "detail", the expected 4xx."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    assert "detail" in response.json(), response.json()


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]
