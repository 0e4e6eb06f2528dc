"""What keeps other sites and other machines out of a studio: the Host check of a studio
without a token (DNS rebinding), JSON only (no cross-site simple POST), and no server path
from a request."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from styx.core.errors import StyxError
from styx.studio.app import StudioSettings, create_app
from styx.studio.forms import refuse_server_path

FIELD = {"flag": "--init", "name": "init"}


@pytest.fixture
def client(tmp_path):
    app = create_app(StudioSettings(folder=tmp_path / "studio"))
    with TestClient(app, base_url="http://localhost") as client:
        yield client


@pytest.mark.parametrize("host", ["evil.example", "192.168.1.20", "localhost.evil.example"])
def test_a_studio_without_a_token_answers_loopback_names_only(client, host):
    response = client.get("/api/jobs", headers={"host": host})
    assert response.status_code == 403
    assert "localhost" in response.json()["error"]


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1:8000", "[::1]:8000",
                                  "127.0.0.2"])
def test_loopback_hosts_are_answered(client, host):
    assert client.get("/api/jobs", headers={"host": host}).status_code == 200


def test_a_job_must_be_sent_as_json_not_as_a_simple_cross_site_post(client):
    body = '{"kind": "stylize", "method": "gatys"}'
    response = client.post("/api/jobs", content=body, headers={"content-type": "text/plain"})
    assert response.status_code == 400 and "application/json" in response.json()["error"]
    assert client.get("/api/jobs").json()["jobs"] == []


@pytest.mark.parametrize("value", ["/etc/passwd", "../secret.png", "~/x.png", "a\\b.png",
                                   ".", "..", "relu1_1:0.5,.."])
def test_values_that_could_name_a_server_file_are_refused(value):
    with pytest.raises(StyxError, match="names a file on the server"):
        refuse_server_path(FIELD, value)


def test_a_word_that_is_an_existing_file_here_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mask.png").write_bytes(b"x")
    with pytest.raises(StyxError):
        refuse_server_path(FIELD, "mask.png:starry")
    refuse_server_path(FIELD, "noise")          # words and numbers pass
    refuse_server_path(FIELD, "relu1_1:0.5,relu2_1:1e3")
