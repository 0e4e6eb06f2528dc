"""Uploads the user may remove, and the pixel budget an upload must keep to: checked from
the file's header, so that a small file declaring a huge picture costs nothing."""

from __future__ import annotations

import io
import time

import pytest
import tiny
from PIL import Image

FAST = tiny.FAST_DESCRIPTOR


def png(size: tuple[int, int] = (40, 30), color=(200, 80, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(client, name: str, data: bytes) -> dict:
    response = client.post("/api/images", files={"file": (name, data)})
    assert response.status_code == 201, response.text
    return response.json()


def image_ids(client) -> set[str]:
    return {i["id"] for i in client.get("/api/catalogue").json()["images"]}


def samples(client) -> dict[str, str]:
    return {i["name"]: i["id"] for i in client.get("/api/catalogue").json()["images"]
            if i["source"] == "sample"}


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert message and "\n" not in message
    return message


def wait_done(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/api/jobs/{job_id}").json())["state"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


# -- deletion ------------------------------------------------------------------------------
def test_deleting_an_upload_removes_its_file_and_row(open_studio, tmp_path):
    with open_studio() as client:
        mine = upload(client, "mine.png", png())
        stored = tmp_path / "studio" / "images" / f"{mine['id']}.png"
        assert stored.is_file()
        response = client.delete(f"/api/images/{mine['id']}")
        assert response.status_code == 200 and response.json() == {"deleted": mine["id"]}
        assert not stored.exists()
        assert mine["id"] not in image_ids(client)
        assert error_of(client.get(f"/api/images/{mine['id']}"), 404) == "no such image"
        assert error_of(client.delete(f"/api/images/{mine['id']}"), 404) == "no such image"
        # the same file again is a new upload, not a ghost of the old one
        assert upload(client, "mine.png", png())["id"] == mine["id"]
        assert stored.is_file()


def test_a_bundled_sample_cannot_be_deleted(open_studio):
    with open_studio() as client:
        for sample in samples(client).values():
            assert "sample" in error_of(client.delete(f"/api/images/{sample}"), 409)
            assert client.get(f"/api/images/{sample}").status_code == 200


@pytest.mark.parametrize("image_id", ["0123456789abcdef", "nope", "%2e%2e"])
def test_deleting_an_unknown_image_is_404(open_studio, image_id):
    with open_studio() as client:
        assert error_of(client.delete(f"/api/images/{image_id}"), 404) == "no such image"


def test_a_job_keeps_its_picture_when_its_images_are_deleted(open_studio):
    with open_studio() as client:
        content = upload(client, "photo.png", png((32, 24), (90, 160, 60)))["id"]
        style = samples(client)["starry_night.jpg"]
        job = client.post("/api/jobs", json={
            "kind": "stylize", "method": "gatys", "content": content, "styles": [style],
            "options": {"size": "32", "steps": "2", **FAST}}).json()
        assert wait_done(client, job["id"])["state"] == "done"
        assert client.delete(f"/api/images/{content}").status_code == 200
        kept = client.get(f"/api/jobs/{job['id']}").json()
        assert kept["state"] == "done" and kept["request"]["content"] == content
        assert client.get(kept["result"]).headers["content-type"] == "image/png"


def test_an_image_a_queued_job_will_read_is_not_deleted(open_studio):
    with open_studio(heavy_workers=1) as client:
        content = upload(client, "photo.png", png((32, 24)))["id"]
        style = samples(client)["starry_night.jpg"]
        body = {"kind": "stylize", "method": "gatys", "content": content, "styles": [style],
                "options": {"size": "32", "steps": "100000", **FAST}}
        jobs = [client.post("/api/jobs", json=body).json()["id"] for _ in range(2)]
        assert "stop it first" in error_of(client.delete(f"/api/images/{content}"), 409)
        for job in jobs:
            client.post(f"/api/jobs/{job}/stop")
            wait_done(client, job)
        assert client.delete(f"/api/images/{content}").status_code == 200


# -- the pixel budget ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """A 9999 x 9999 PNG of a few kilobytes: decoding it would take seconds and 400 MB."""
    buffer = io.BytesIO()
    Image.new("1", (9999, 9999)).save(buffer, format="PNG")
    assert len(buffer.getvalue()) < 100_000
    return buffer.getvalue()


def test_a_huge_picture_in_a_small_file_is_refused_before_it_is_decoded(open_studio, huge_png,
                                                                        monkeypatch):
    from PIL import ImageFile

    def never(*args, **kwargs):
        raise AssertionError("decoded")

    with open_studio() as client:
        before = image_ids(client)
        monkeypatch.setattr(ImageFile.ImageFile, "load", never)
        began = time.monotonic()
        response = client.post("/api/images", files={"file": ("big.png", huge_png)})
        took = time.monotonic() - began
        assert error_of(response, 400) == (
            "big.png is 9999 x 9999 (100.0 megapixels), more than this studio's limit of 40 "
            "megapixels (shrink it, or start styx serve with --max-upload-megapixels 120)")
        assert took < 2.0
        assert image_ids(client) == before
        assert client.get("/api/catalogue").json()["max_upload_megapixels"] == 40


def test_the_budget_is_the_studios_setting(open_studio, tmp_path):
    with open_studio(max_upload_pixels=1000) as client:  # the samples are in all the same
        assert client.get("/api/catalogue").json()["max_upload_megapixels"] == 0.001
        message = error_of(client.post("/api/images", files={"file": ("a.png", png((40, 30)))}),
                           400)
        assert message.startswith("a.png is 40 x 30 (0.0 megapixels), more than this studio's "
                                  "limit of 0.001 megapixels")
        assert "--max-upload-megapixels 10" in message
        assert upload(client, "b.png", png((40, 25)))["width"] == 40  # 1000 pixels: taken
    leftovers = [p.name for p in (tmp_path / "studio" / "images").iterdir()
                 if not p.name.endswith(".png")]
    assert leftovers == []
