"""Answers of a studio outside its routes' own: an unknown address or method is JSON like
every other error, and the icon a browser asks for is there."""

from __future__ import annotations

import pytest


def json_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]
    assert message and "\n" not in message
    return message


@pytest.mark.parametrize("path", ["/nothing", "/api/nothing", "/api/jobs/0123456789ab/x.png",
                                  "/static/nothing.js", "/api/images/..%2Fx"])
def test_an_unknown_address_is_a_json_404(open_studio, path):
    with open_studio() as client:
        assert json_error(client.get(path), 404).startswith("no such address")


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/jobs"), ("POST", "/api/catalogue"),
                                              ("DELETE", "/api/events"), ("PATCH", "/")])
def test_a_method_a_route_does_not_take_is_a_json_405(open_studio, method, path):
    with open_studio() as client:
        response = client.request(method, path)
        assert json_error(response, 405) == f"{method} is not allowed on {path}"
        assert "GET" in response.headers["allow"]


def test_the_icon_is_an_svg_kept_by_the_browser(open_studio):
    with open_studio() as client:
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200
        assert icon.headers["content-type"] == "image/svg+xml"
        assert "max-age=" in icon.headers["cache-control"]
        assert int(icon.headers["cache-control"].split("max-age=")[1].split(",")[0]) >= 86400
        assert icon.text.lstrip().startswith("<svg") and "</svg>" in icon.text
        assert client.get("/static/favicon.svg").content == icon.content


def test_a_studio_with_a_token_asks_for_it_for_the_icon_too(open_studio):
    with open_studio(token="s3cret") as client:
        assert json_error(client.get("/favicon.ico"), 401)
        assert json_error(client.get("/nothing"), 401)  # no address probing without it
        assert client.get("/favicon.ico", params={"token": "s3cret"}).status_code == 200
