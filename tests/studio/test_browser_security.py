"""The guard against what a real browser sends: a page of another site (``localhost`` on
another port: another site to a studio at 127.0.0.1) cannot post to the studio, delete from
it, read from it or show its pictures, while the studio's own page can do all of that.

What Chromium sends (``Origin``, ``Sec-Fetch-Site``, ``Sec-Fetch-Mode``) is what the guard
reads, so this checks the two against each other. The other site is a tiny static server
on a free loopback port; the studio is a real uvicorn (tests/live_server.py).
"""

from __future__ import annotations

import functools
import http.server
import io
import threading

import httpx
import pytest
from PIL import Image
from ports import free_port

pytestmark = pytest.mark.browser

#: What a hostile page would ask of the studio (its picture, an upload, a deletion, a
#: read), run in a page; returns what each attempt got, as the page's JavaScript sees it.
ATTEMPTS = """
async ([studio, image]) => {
  const result = {};
  result.picture = await new Promise((done) => {
    const img = new Image();
    img.onload = () => done(img.naturalWidth);
    img.onerror = () => done(0);
    img.src = studio + "api/images/" + image;
  });
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array([137, 80, 78, 71])], {type: "image/png"}),
              "x.png");
  const attempt = async (name, url, options) => {
    try { const r = await fetch(url, options); result[name] = r.type + " " + r.status; }
    catch (e) { result[name] = "failed"; }
  };
  await attempt("upload", studio + "api/images", {method: "POST", body: form, mode: "no-cors"});
  await attempt("delete", studio + "api/images/" + image, {method: "DELETE"});
  await attempt("read", studio + "api/jobs", {mode: "no-cors"});
  return result;
}
"""


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (30, 140, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def studio(tmp_path):
    from live_server import live_studio

    from styx.studio.app import StudioSettings

    settings = StudioSettings(folder=tmp_path / "studio", study_dirs=[])
    with live_studio(settings) as (url, _), httpx.Client(base_url=url, timeout=30) as client:
        image = client.post("api/images", files={"file": ("mine.png", png_bytes())})
        yield url, client, image.json()["id"]


@pytest.fixture
def other_site(tmp_path):
    """``http://localhost:PORT/``: a blank page of another site."""
    folder = tmp_path / "other-site"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html><title>another site</title>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_a_page_of_another_site_cannot_post_delete_read_or_embed(studio, other_site,
                                                                 browser_page):
    url, client, image = studio
    statuses: dict[str, int] = {}
    browser_page.on("response", lambda response: statuses.__setitem__(
        f"{response.request.method} {response.url}", response.status))
    browser_page.goto(other_site)
    before = client.get("api/catalogue").json()["images"]
    result = browser_page.evaluate(ATTEMPTS, [url, image])
    assert result["picture"] == 0  # the studio's picture does not show there
    assert result["delete"] == "failed"  # its preflight refused: never sent
    # what the studio answered, whatever the browser let the page see of it
    assert statuses[f"POST {url}api/images"] == 403
    assert statuses[f"GET {url}api/jobs"] == 403
    assert client.get("api/catalogue").json()["images"] == before  # nothing came or went


def test_the_studios_own_page_can(studio, browser_page):
    url, client, image = studio
    browser_page.goto(url)
    result = browser_page.evaluate(ATTEMPTS.replace('mode: "no-cors"', 'mode: "same-origin"'),
                                   [url, image])
    assert result["picture"] == 24  # shown (then deleted)
    assert result["upload"] == "basic 400"  # through the guard: four bytes are no image
    assert result["delete"] == "basic 200" and result["read"] == "basic 200"
    assert client.get(f"api/images/{image}").status_code == 404
