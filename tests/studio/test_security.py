"""What keeps other sites and other machines out of a studio: the Host check of a studio
without a token (DNS rebinding), JSON only (no cross-site simple POST), the Origin and
Sec-Fetch-Site checks (no page of another site may change the studio or read from it), and
no server path from a request."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from starlette.testclient import TestClient

from styx.core.errors import StyxError
from styx.studio.app import StudioSettings, create_app
from styx.studio.forms import refuse_server_path
from styx.studio.guard import host_name, same_origin

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


# -- the Host (DNS rebinding) --------------------------------------------------------------
@pytest.mark.parametrize("host", ["127.attacker.example:8765", "127.0.0.1.evil.example",
                                  "127.evil", "localhost.evil.example:8000", "[::2]:8000"])
def test_a_name_that_only_starts_like_loopback_is_refused(client, host):
    response = client.get("/api/jobs", headers={"host": host})
    assert response.status_code == 403, host
    assert "localhost" in response.json()["error"]


def test_a_studio_answers_to_the_address_it_listens_on_too(tmp_path):
    app = create_app(StudioSettings(folder=tmp_path / "studio", host="10.1.2.3"))
    with TestClient(app, base_url="http://10.1.2.3:8000") as client:
        assert client.get("/api/jobs").status_code == 200
        assert client.get("/api/jobs", headers={"host": "localhost:8000"}).status_code == 200
        assert client.get("/api/jobs", headers={"host": "10.1.2.4:8000"}).status_code == 403


@pytest.mark.parametrize(("header", "name"), [
    ("localhost", "localhost"), ("LocalHost:8000", "localhost"), ("127.0.0.1:80", "127.0.0.1"),
    ("[::1]:8000", "::1"), ("[::1]", "::1"), ("::1", "::1"), ("example.com", "example.com")])
def test_host_name_leaves_out_the_port_and_the_brackets(header, name):
    assert host_name(header) == name


@pytest.mark.parametrize(("origin", "scheme", "host", "same"), [
    ("http://127.0.0.1:8765", "http", "127.0.0.1:8765", True),
    ("HTTP://LocalHost:8765", "http", "localhost:8765", True),
    ("http://localhost", "http", "localhost:80", True),
    ("https://studio.example", "https", "studio.example:443", True),
    ("http://127.0.0.1:9999", "http", "127.0.0.1:8765", False),  # another port
    ("https://127.0.0.1:8765", "http", "127.0.0.1:8765", False),  # another scheme
    ("http://evil.example", "http", "127.0.0.1:8765", False),
    ("null", "http", "127.0.0.1:8765", False),
    ("http://127.0.0.1:8765/x", "http", "127.0.0.1:8765", False),
    ("http://127.0.0.1:8765", "http", "", False)])
def test_same_origin(origin, scheme, host, same):
    assert same_origin(origin, scheme, host) is same


# -- cross-site requests ---------------------------------------------------------------------
OWN = "http://127.0.0.1:8765"
#: What a browser sends with a request a page of another site (or another port) makes.
FOREIGN = [{"origin": "http://127.0.0.1:9999"}, {"origin": "http://evil.example"},
           {"origin": "null"}, {"origin": "https://127.0.0.1:8765"},
           {"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
           {"origin": OWN, "sec-fetch-site": "cross-site"}]
FOREIGN_IDS = ["another-port", "another-site", "null", "another-scheme", "cross-site",
               "same-site", "own-origin-but-cross-site"]
#: What it sends with the studio's own page's requests (or a user's typing: none).
OWN_PAGE = [{"origin": OWN}, {"origin": OWN, "sec-fetch-site": "same-origin"},
            {"sec-fetch-site": "none"}, {}]
OWN_PAGE_IDS = ["origin", "origin-and-same-origin", "typed", "no-browser"]


@pytest.fixture
def studio(tmp_path):
    """A loopback studio as a browser sees it at http://127.0.0.1:8765, with an upload."""
    app = create_app(StudioSettings(folder=tmp_path / "studio"))
    with TestClient(app, base_url=OWN) as client:
        client.upload = client.post(  # type: ignore[attr-defined]
            "/api/images", files={"file": ("mine.png", png())}).json()["id"]
        yield client


def png(size: tuple[int, int] = (20, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def changes(client, headers: dict[str, str]) -> dict[str, int]:
    """The status of each kind of request that changes something, sent with ``headers``:
    a multipart upload, a form post, a bodiless post, a JSON post, deletions."""
    job = "0123456789ab"
    return {
        "upload": client.post("/api/images", headers=headers,
                              files={"file": ("other.png", png((12, 12)))}).status_code,
        "stop (form)": client.post(f"/api/jobs/{job}/stop", data={"a": "1"},
                                   headers=headers).status_code,
        "resume": client.post(f"/api/jobs/{job}/resume", headers=headers).status_code,
        "start (json)": client.post("/api/jobs", json={"kind": "nothing"},
                                    headers=headers).status_code,
        "delete job": client.delete(f"/api/jobs/{job}", headers=headers).status_code,
        "delete image": client.delete(f"/api/images/{client.upload}",
                                      headers=headers).status_code}


@pytest.mark.parametrize("headers", FOREIGN, ids=FOREIGN_IDS)
def test_no_page_of_another_site_may_change_the_studio(studio, headers):
    before = studio.get("/api/catalogue").json()["images"]
    statuses = changes(studio, headers)
    assert statuses == dict.fromkeys(statuses, 403)
    response = studio.post("/api/images", headers=headers, files={"file": ("x.png", png())})
    assert "another site" in response.json()["error"]
    assert studio.get("/api/catalogue").json()["images"] == before  # nothing came or went


@pytest.mark.parametrize("headers", OWN_PAGE, ids=OWN_PAGE_IDS)
def test_the_studios_own_page_and_programs_may(studio, headers):
    assert changes(studio, headers) == {
        "upload": 201, "stop (form)": 404, "resume": 404, "start (json)": 400,
        "delete job": 404, "delete image": 200}
    assert studio.get(f"/api/images/{studio.upload}").status_code == 404  # deleted


@pytest.mark.parametrize("site", ["cross-site", "same-site"])
@pytest.mark.parametrize("path", ["/api/jobs", "/api/catalogue", "/api/events",
                                  "/api/images/IMAGE", "/api/jobs/0123456789ab/result.png",
                                  "/static/studio.js", "/favicon.ico"])
def test_no_page_of_another_site_may_read_from_the_studio(studio, site, path):
    path = path.replace("IMAGE", studio.upload)
    response = studio.get(path, headers={"sec-fetch-site": site, "sec-fetch-mode": "no-cors"})
    assert response.status_code == 403
    assert "another site" in response.json()["error"]
    # a link to it followed, too: only the page itself may be opened from elsewhere
    response = studio.get(path, headers={"sec-fetch-site": site, "sec-fetch-mode": "navigate",
                                         "sec-fetch-dest": "document"})
    assert response.status_code == 403


def test_a_link_from_another_site_may_open_the_page_but_not_frame_it(studio):
    link = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate",
            "sec-fetch-dest": "document"}
    assert studio.get("/", headers=link).status_code == 200
    assert studio.get("/", headers={**link, "sec-fetch-dest": "iframe"}).status_code == 403
    assert studio.post("/", headers=link).status_code == 403


@pytest.mark.parametrize("site", ["same-origin", "none"])
def test_the_studios_own_reads_pass(studio, site):
    headers = {"sec-fetch-site": site, "sec-fetch-mode": "cors"}
    assert studio.get("/api/jobs", headers=headers).status_code == 200
    assert studio.get(f"/api/images/{studio.upload}", headers=headers).status_code == 200


def test_a_studio_with_a_token_refuses_another_site_even_with_the_token(tmp_path):
    app = create_app(StudioSettings(folder=tmp_path / "studio", token="s3cret",
                                    host="0.0.0.0"))
    bearer = {"authorization": "Bearer s3cret"}
    with TestClient(app, base_url="http://studio.example:8000") as client:
        own = client.post("/api/jobs/0123456789ab/stop",
                          headers={**bearer, "origin": "http://studio.example:8000"})
        assert own.status_code == 404  # through both checks, to the route
        other = client.post("/api/jobs/0123456789ab/stop",
                            headers={**bearer, "origin": "http://evil.example"})
        assert other.status_code == 403
        assert client.get("/api/jobs", headers={**bearer, "sec-fetch-site": "cross-site"}
                          ).status_code == 403
        assert client.post("/api/jobs/0123456789ab/stop",
                           headers={"origin": "http://studio.example:8000"}).status_code == 401
