"""The studio's HTTP API, in process: the page, the catalogue, uploads, jobs (run, stop,
cancel, resume, delete, download), training, the token, a restart, server-sent events,
study reports, and the helpers of ``styx serve``.

Each test has a studio of its own (``open_studio``, tests/studio/conftest.py); every run
uses random descriptor weights and a long side of 32 px. Jobs run in the studio's worker
threads, so the tests poll a job until it is where they want it (``wait_final``,
``wait_step``).
"""

from __future__ import annotations

import io
import json
import re
import socket
import struct
import time
import zlib

import httpx
import pytest
import tiny
from PIL import Image

FAST = tiny.FAST_DESCRIPTOR
FINAL = ("done", "stopped", "failed", "cancelled", "interrupted")
#: Long enough never to end during a test (stopped, or interrupted at the end of it).
LONG = "2000"


# -- helpers -------------------------------------------------------------------------------
def samples(client) -> tuple[str, str]:
    """The ids of the bundled photo and painting."""
    images = {i["name"]: i["id"] for i in client.get("/api/catalogue").json()["images"]}
    return images["tubingen.jpg"], images["starry_night.jpg"]


def gatys(content: str, style: str, steps: str = "6", **options) -> dict:
    return {"kind": "stylize", "method": "gatys", "content": content, "styles": [style],
            "options": {"size": "32", "steps": steps, **FAST, **options}}


def train_body(style: str, folder_id: str, name: str, iterations: str = "10",
               **options) -> dict:
    return {"kind": "train", "method": "texture-nets", "styles": [style],
            "content_folder": folder_id,
            "options": {"iterations": iterations, "image_size": "32", "batch_size": "1",
                        "log_every": "2", **FAST, "name": name, **options}}


def start(client, body: dict) -> dict:
    response = client.post("/api/jobs", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def job_of(client, job_id: str) -> dict:
    response = client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 200, response.text
    return response.json()


def wait_final(client, job_id: str, timeout: float = 60.0) -> dict:
    """The job once its state is final."""
    deadline = time.monotonic() + timeout
    while True:
        job = job_of(client, job_id)
        if job["state"] in FINAL:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['state']}"
        time.sleep(0.05)


def wait_step(client, job_id: str, step: int = 2, timeout: float = 60.0) -> dict:
    """The job once it runs and has reported step ``step``."""
    deadline = time.monotonic() + timeout
    while True:
        job = job_of(client, job_id)
        assert job["state"] in ("queued", "running"), job
        if job["state"] == "running" and (job.get("progress") or {}).get("step", 0) >= step:
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not reach step {step}"
        time.sleep(0.05)


def job_count(client) -> int:
    return len(client.get("/api/jobs").json()["jobs"])


def png(size: tuple[int, int] = (40, 30), color=(200, 80, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def noisy_png(size: tuple[int, int] = (64, 64)) -> bytes:
    """A PNG that compresses badly, so that cutting it leaves the pixels short."""
    buffer = io.BytesIO()
    Image.effect_noise(size, 80).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A small PNG whose header says it is ``width`` x ``height``."""
    data = bytearray(png((2, 2)))
    ihdr = 8  # after the signature: length (4), b"IHDR" (4), 13 bytes of data, CRC (4)
    assert data[ihdr + 4:ihdr + 8] == b"IHDR"
    data[ihdr + 8:ihdr + 16] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4:ihdr + 21]))
    data[ihdr + 21:ihdr + 25] = struct.pack(">I", crc)
    return bytes(data)


def picture(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    opened = Image.open(io.BytesIO(response.content))
    assert opened.format == "PNG"
    return opened


def one_line_error(response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert message and "\n" not in message
    assert "Traceback" not in message
    return message


# -- 1. the page and the catalogue ---------------------------------------------------------
def test_the_page_and_its_static_files_load(open_studio):
    with open_studio() as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "<title>styx studio</title>" in page.text
        assert "/static/studio.js" in page.text and "/static/studio.css" in page.text
        script = client.get("/static/studio.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert "/api/jobs" in script.text
        style = client.get("/static/studio.css")
        assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
        assert client.get("/static/no-such-file.js").status_code == 404


def test_the_catalogue_lists_methods_options_and_the_samples(open_studio):
    with open_studio() as client:
        catalogue = client.get("/api/catalogue").json()
    methods = {m["name"]: m for m in catalogue["methods"]}
    assert {"gatys", "texture-nets", "stylebank"} <= set(methods)
    for method in methods.values():
        assert method["run_options"], method["name"]
        for option in method["run_options"] + method["train_options"]:
            assert {"name", "flag", "help", "default", "kind"} <= set(option), option
            assert option["flag"].startswith("--")
            assert option["kind"] not in ("path", "paths"), (method["name"], option)
    gatys_options = {o["name"]: o for o in methods["gatys"]["run_options"]}
    assert {"steps", "size", "init", "weights", "descriptor", "style_weight"} <= set(gatys_options)
    assert gatys_options["init"]["default"] == "content"
    assert not methods["gatys"]["feed_forward"] and not methods["gatys"]["can_train"]
    for name in ("texture-nets", "stylebank"):
        assert methods[name]["feed_forward"] and methods[name]["can_train"]
        trained = {o["name"] for o in methods[name]["train_options"]}
        assert "iterations" in trained
        # the studio fills these in itself, from uploads and allowed folders
        assert not trained & {"style", "content_dir", "resume", "output", "run_dir"}
    assert methods["texture-nets"]["train_styles"] == "one"
    assert methods["stylebank"]["train_styles"] == "many"
    images = {i["name"]: i for i in catalogue["images"]}
    assert {"tubingen.jpg", "starry_night.jpg"} <= set(images)
    for image in images.values():
        assert image["source"] == "sample" and image["width"] > 0 and image["height"] > 0
        assert image["url"] == f"/api/images/{image['id']}"
    assert catalogue["can_train_from_folders"] is False
    assert isinstance(catalogue["models"], list)


# -- 2. uploads ----------------------------------------------------------------------------
def test_a_png_and_a_jpeg_upload_and_the_same_bytes_give_the_same_image(open_studio):
    jpeg = io.BytesIO()
    Image.new("RGB", (50, 20), (10, 120, 200)).save(jpeg, format="JPEG")
    with open_studio() as client:
        first = client.post("/api/images", files={"file": ("orange.png", png((40, 30)))})
        assert first.status_code == 201, first.text
        record = first.json()
        assert (record["width"], record["height"]) == (40, 30)
        assert record["name"] == "orange.png" and record["source"] == "upload"
        assert picture(client.get(record["url"])).size == (40, 30)
        photo = client.post("/api/images", files={"file": ("sky.jpg", jpeg.getvalue())})
        assert photo.status_code == 201, photo.text
        assert (photo.json()["width"], photo.json()["height"]) == (50, 20)
        assert picture(client.get(photo.json()["url"])).size == (50, 20)
        again = client.post("/api/images", files={"file": ("copy.png", png((40, 30)))})
        assert again.status_code == 201 and again.json()["id"] == record["id"]
        ids = [i["id"] for i in client.get("/api/catalogue").json()["images"]]
        assert ids.count(record["id"]) == 1 and photo.json()["id"] in ids


def test_an_exif_rotated_jpeg_comes_back_upright(open_studio):
    # stored 40 wide, 20 high: the left half red, the right half blue; orientation 6 says
    # "turn 90 degrees clockwise to show", so upright it is 20 x 40, red on top
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = io.BytesIO()
    stored.save(jpeg, format="JPEG", exif=exif.tobytes(), quality=95)
    with open_studio() as client:
        response = client.post("/api/images", files={"file": ("phone.jpg", jpeg.getvalue())})
        assert response.status_code == 201, response.text
        assert (response.json()["width"], response.json()["height"]) == (20, 40)
        upright = picture(client.get(response.json()["url"])).convert("RGB")
    assert upright.size == (20, 40)
    top, bottom = upright.getpixel((10, 8)), upright.getpixel((10, 32))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_an_uploaded_file_name_is_kept_for_display_only(open_studio):
    with open_studio() as client:
        response = client.post("/api/images",
                               files={"file": ("../../etc/holiday.png", png((8, 8)))})
        assert response.status_code == 201
        assert response.json()["name"] == "holiday.png"


@pytest.mark.parametrize(("name", "data", "expected"), [
    ("empty-photo.png", b"", "is empty"),
    ("notes-photo.png", b"these are notes, not pixels\n" * 10, "not an image"),
    ("cut-photo.png", noisy_png()[:3000], "cannot read image"),
    ("huge-photo.png", png_declaring(12000, 9000), "more than this studio's limit of 40 megapixels"),
    ("bomb-photo.png", png_declaring(40000, 40000), "too many pixels"),
], ids=["empty", "not-an-image", "truncated", "over-the-pixel-budget", "decompression-bomb"])
def test_a_bad_upload_is_one_line_naming_the_file_never_a_server_path(
        open_studio, tmp_path, name, data, expected):
    with open_studio() as client:
        before = len(client.get("/api/catalogue").json()["images"])
        message = one_line_error(client.post("/api/images", files={"file": (name, data)}))
        assert expected in message and name in message
        assert str(tmp_path) not in message and not re.search(r"(?<!max-)upload-", message)
        assert len(client.get("/api/catalogue").json()["images"]) == before
    leftovers = [p.name for p in (tmp_path / "studio" / "images").iterdir()
                 if not p.name.endswith(".png")]
    assert leftovers == []  # no temporary file left behind


def test_pillows_own_decompression_bomb_limit_is_a_clear_400(open_studio, monkeypatch):
    with open_studio() as client:  # the samples are in; now a limit far below them
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
        message = one_line_error(
            client.post("/api/images", files={"file": ("big-photo.png", png((64, 64)))}))
    assert "big-photo.png has too many pixels" in message


def test_an_upload_without_a_file_field_is_400(open_studio):
    with open_studio() as client:
        message = one_line_error(client.post("/api/images", data={"picture": "x"}))
        assert "no file" in message and "'file'" in message
        message = one_line_error(client.post("/api/images", files={"other": ("a.png", png())}))
        assert "no file" in message


def test_an_unknown_image_is_404(open_studio):
    with open_studio() as client:
        for path in ("/api/images/0123456789abcdef", "/api/images/nope",
                     "/api/images/%2e%2e", "/api/images/images"):
            assert one_line_error(client.get(path), 404) == "no such image", path
        for path in ("/api/images/..%2Fx", "/api/images/../x", "/api/images/%2e%2e/studio.sqlite"):
            assert client.get(path).status_code == 404, path  # no route: a plain 404


# -- 3. jobs -------------------------------------------------------------------------------
def test_a_gatys_job_runs_to_done_with_its_picture_settings_and_history(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        created = start(client, gatys(content, style))
        assert created["state"] in ("queued", "running") and created["kind"] == "stylize"
        job = wait_final(client, created["id"])
        assert job["state"] == "done", job["error"]
        assert job["summary"]["steps"] == 6 and job["summary"]["interrupted"] is False
        assert job["settings"]["descriptor"] == "vgg16"
        assert job["settings"]["weights"] == "random" and job["settings"]["size"] == 32
        assert "style_weight" in job["settings"] and "init" in job["settings"]
        assert job["history"] and all("total" in entry for entry in job["history"])
        assert job["result"] == f"/api/jobs/{job['id']}/result.png"
        result = picture(client.get(job["result"]))
        assert max(result.size) == 32
        assert result.size == (job["summary"]["width"], job["summary"]["height"])
        plain = client.get(job["result"])
        assert "content-disposition" not in plain.headers
        download = client.get(job["result"], params={"download": "1"})
        assert download.headers["content-disposition"].startswith("attachment")
        assert job["id"] in download.headers["content-disposition"]
        assert download.content == plain.content
        assert picture(client.get(f"/api/jobs/{job['id']}/frame.png")).size == result.size
        settings = client.get(f"/api/jobs/{job['id']}/settings.json")
        assert settings.status_code == 200
        assert settings.headers["content-disposition"].startswith("attachment")
        document = json.loads(settings.content)
        assert document["settings"] == job["settings"] and document["state"] == "done"
        assert document["request"]["options"]["steps"] == "6"
        assert document["styx_version"]
        listed = client.get("/api/jobs").json()["jobs"]
        assert [j["id"] for j in listed] == [job["id"]]
        assert client.get("/api/jobs", params={"live": "1"}).json()["jobs"] == []
        for missing in ("result.png", "settings.json", "frame.png", "sample.png"):
            assert client.get(f"/api/jobs/0123456789ab/{missing}").status_code == 404
        assert client.get(f"/api/jobs/{job['id']}/sample.png").status_code == 404


def test_bad_job_requests_are_400_and_start_nothing(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        cases = [
            ({**gatys(content, style), "method": "no-such-method"}, "no-such-method"),
            ({"kind": "paint"}, "no job kind"),
            ({"kind": "stylize"}, "give a method or a model"),
            (gatys(content, style, bogus="1"), "no option 'bogus'"),
            (gatys(content, style, steps="0"), '"Optimiser steps per scale" cannot be 0'),
            (gatys(content, style, steps="many"), '"Optimiser steps per scale"'),
            (gatys(content, style, init="/etc/passwd"), "names a file on the server"),
            (gatys(content, style, init="~/photo.png"), "names a file on the server"),
            (gatys(content, style, init="../photo.png"), "names a file on the server"),
            (gatys(content, style, descriptor_options=["weights=/etc/passwd"]),
             "names a file on the server"),
            (gatys(content, style, init=["content"]), '"Starting image"'),
            ({**gatys(content, style), "options": "size=32"}, "options must be an object"),
            ({**gatys(content, style), "content": "0123456789abcdef"},
             "no content image '0123456789abcdef'"),
            ({**gatys(content, style), "content": "../../etc/passwd"}, "no content image"),
            ({**gatys(content, style), "styles": ["fedcba9876543210"]}, "no style image"),
            ({"kind": "stylize", "method": "texture-nets", "content": content},
             "runs a trained model"),
            ({"kind": "stylize", "model": "no-such-model", "content": content},
             "no-such-model"),
            ({"kind": "stylize", "model": "../../etc", "content": content}, "no model"),
            ({"kind": "stylize", "model": 3, "content": content}, "model"),
            ({"kind": "train", "method": "gatys", "styles": [style]}, "cannot train"),
        ]
        for body, expected in cases:
            message = one_line_error(client.post("/api/jobs", json=body))
            assert expected in message, (body, message)
        for raw, expected in [(b"not json", "not JSON"), (b"[1, 2]", "JSON object"),
                              (b"", "not JSON")]:
            response = client.post("/api/jobs", content=raw,
                                   headers={"content-type": "application/json"})
            assert expected in one_line_error(response), raw
        as_text = client.post("/api/jobs", content=json.dumps(gatys(content, style)),
                              headers={"content-type": "text/plain"})
        assert "application/json" in one_line_error(as_text)
        assert job_count(client) == 0


def test_an_option_naming_an_existing_file_here_is_refused(open_studio, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.png").write_bytes(png((8, 8)))
    with open_studio() as client:
        content, style = samples(client)
        for value in ("secret.png", "."):
            message = one_line_error(
                client.post("/api/jobs", json=gatys(content, style, init=value)))
            assert "names a file on the server" in message and '"Starting image"' in message
        assert job_count(client) == 0


def test_a_keyword_value_is_taken_whatever_the_servers_working_folder_holds(
        open_studio, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a usual project layout: content/ and style/ folders
    (tmp_path / "content").mkdir()
    (tmp_path / "style").mkdir()
    with open_studio() as client:
        content, style = samples(client)
        response = client.post("/api/jobs", json=gatys(content, style, init="content"))
        assert response.status_code == 201, response.text


def test_styles_for_a_model_run_are_refused(open_studio, trained_model):
    with open_studio() as client:
        content, style = samples(client)
        body = {"kind": "stylize", "model": trained_model, "content": content,
                "styles": [style]}
        assert "takes no style images" in one_line_error(client.post("/api/jobs", json=body))
        body = {"kind": "stylize", "model": trained_model, "content": content,
                "options": {"steps": "5"}}
        assert "no option 'steps'" in one_line_error(client.post("/api/jobs", json=body))
        assert job_count(client) == 0


# -- 4. stop, cancel, the two lanes --------------------------------------------------------
def test_stopping_a_running_gatys_job_keeps_its_picture(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        job = start(client, gatys(content, style, steps=LONG))
        running = wait_step(client, job["id"], 3)
        assert running["progress"]["total"] == int(LONG)
        assert [j["id"] for j in client.get("/api/jobs?live=1").json()["jobs"]] == [job["id"]]
        response = client.post(f"/api/jobs/{job['id']}/stop")
        assert response.status_code == 200
        stopped = wait_final(client, job["id"])
        assert stopped["state"] == "stopped", stopped["error"]
        assert stopped["summary"]["interrupted"] is True
        assert 3 <= stopped["summary"]["steps"] < int(LONG)
        assert max(picture(client.get(stopped["result"])).size) == 32
        assert "not running" in one_line_error(
            client.post(f"/api/jobs/{job['id']}/stop"), 409)
        assert one_line_error(client.post("/api/jobs/0123456789ab/stop"), 404)


def test_stopping_a_queued_job_cancels_it(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        first = start(client, gatys(content, style, steps=LONG))
        second = start(client, gatys(content, style, steps=LONG))
        wait_step(client, first["id"], 1)
        assert job_of(client, second["id"])["state"] == "queued"  # one heavy job at a time
        response = client.post(f"/api/jobs/{second['id']}/stop")
        assert response.status_code == 200 and response.json()["state"] == "cancelled"
        assert job_of(client, first["id"])["state"] == "running"
        client.post(f"/api/jobs/{first['id']}/stop")
        assert wait_final(client, first["id"])["state"] == "stopped"
        time.sleep(0.2)  # the heavy worker takes the cancelled job next: it must skip it
        cancelled = job_of(client, second["id"])
        assert cancelled["state"] == "cancelled" and cancelled["result"] is None
        assert cancelled["started"] is None
        assert one_line_error(client.post(f"/api/jobs/{second['id']}/stop"), 409)


def test_a_model_run_does_not_wait_behind_a_long_job(open_studio, trained_model):
    with open_studio() as client:
        content, style = samples(client)
        long_job = start(client, gatys(content, style, steps=LONG))
        wait_step(client, long_job["id"], 1)
        quick = start(client, {"kind": "stylize", "model": trained_model, "content": content,
                               "options": {"long_side": "32"}})
        done = wait_final(client, quick["id"], timeout=30)
        assert done["state"] == "done", done["error"]
        assert done["method"] == "texture-nets"
        assert job_of(client, long_job["id"])["state"] == "running"
        assert max(picture(client.get(done["result"])).size) == 32
        client.post(f"/api/jobs/{long_job['id']}/stop")
        assert wait_final(client, long_job["id"])["state"] == "stopped"


# -- 5. training ---------------------------------------------------------------------------
def folder_id(client, path) -> str:
    folders = {f["path"]: f for f in client.get("/api/folders").json()["folders"]}
    return folders[str(path.resolve())]["id"]


def test_a_trained_model_is_in_the_catalogue_and_runs(open_studio, photos):
    name = f"api-train-{time.time_ns() % 10**8}"
    with open_studio(allow_dirs=[photos]) as client:
        content, style = samples(client)
        assert client.get("/api/catalogue").json()["can_train_from_folders"] is True
        job = wait_final(client, start(client, train_body(style, folder_id(client, photos),
                                                          name))["id"])
        assert job["state"] == "done", job["error"]
        assert job["kind"] == "train" and job["summary"]["iterations"] == 10
        assert job["summary"]["name"] == name
        steps = [entry["step"] for entry in job["history"]]
        assert steps == [2, 4, 6, 8, 10]
        assert all(entry["total"] > 0 for entry in job["history"])
        assert job["settings"]["iterations"] == 10
        assert job["request"]["train_options"]["content_dir"] == str(photos.resolve())
        assert picture(client.get(job["sample"])).size[0] > 0
        assert picture(client.get(job["result"])).size[0] > 0
        models = {m["name"]: m for m in client.get("/api/catalogue").json()["models"]}
        assert models[name]["method"] == "texture-nets" and models[name]["error"] is None
        taken = client.post("/api/jobs", json=train_body(style, folder_id(client, photos),
                                                         name))
        assert "already exists" in one_line_error(taken)
        run = start(client, {"kind": "stylize", "model": name, "content": content,
                             "options": {"long_side": "32"}})
        ran = wait_final(client, run["id"], timeout=30)
        assert ran["state"] == "done", ran["error"]
        assert max(picture(client.get(ran["result"])).size) == 32
        preview = client.post("/api/preview", json={"model": name, "content": content,
                                                    "size": 24})
        assert max(picture(preview).size) == 24
        assert "size" in one_line_error(
            client.post("/api/preview", json={"model": name, "content": content, "size": 5}))
        assert "no model" in one_line_error(
            client.post("/api/preview", json={"model": "no-such-model"}))


def test_a_stopped_training_run_resumes_to_its_full_length(open_studio, photos):
    name = f"api-resume-{time.time_ns() % 10**8}"
    with open_studio(allow_dirs=[photos]) as client:
        _, style = samples(client)
        body = train_body(style, folder_id(client, photos), name, iterations="80",
                          checkpoint_every="5", log_every="1")
        job = start(client, body)
        wait_step(client, job["id"], 5)
        assert client.post(f"/api/jobs/{job['id']}/stop").status_code == 200
        stopped = wait_final(client, job["id"])
        assert stopped["state"] == "stopped", stopped["error"]
        assert 5 <= len(stopped["history"]) < 80
        resumed = client.post(f"/api/jobs/{job['id']}/resume")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["state"] in ("queued", "running")
        done = wait_final(client, job["id"])
        assert done["state"] == "done", done["error"]
        assert done["summary"]["iterations"] == 80
        assert done["history"][-1]["step"] == 80
        assert job_count(client) == 1  # the same job, not a new one
        assert one_line_error(client.post(f"/api/jobs/{job['id']}/resume"), 409)


def test_only_a_stopped_training_run_can_be_resumed(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        job = wait_final(client, start(client, gatys(content, style, steps="2"))["id"])
        assert "training run" in one_line_error(
            client.post(f"/api/jobs/{job['id']}/resume"), 409)
        assert one_line_error(client.post("/api/jobs/0123456789ab/resume"), 404)


def test_a_training_run_interrupted_while_queued_can_be_resumed(open_studio, photos):
    name = f"api-queued-{time.time_ns() % 10**8}"
    with open_studio(allow_dirs=[photos]) as client:
        content, style = samples(client)
        busy = start(client, gatys(content, style, steps=LONG))
        queued = start(client, train_body(style, folder_id(client, photos), name))
        wait_step(client, busy["id"], 1)
    with open_studio(allow_dirs=[photos]) as client:
        assert job_of(client, queued["id"])["state"] == "interrupted"
        assert client.post(f"/api/jobs/{queued['id']}/resume").status_code == 200
        job = wait_final(client, queued["id"])
        assert job["state"] == "done", job["error"]


def test_a_content_folder_must_be_one_under_the_allowed_roots(open_studio, photos, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    with open_studio(allow_dirs=[photos]) as client:
        _, style = samples(client)
        for made_up in ("0123456789ab", str(outside), str(photos), "../outside"):
            message = one_line_error(
                client.post("/api/jobs", json=train_body(style, made_up, "never")))
            assert "content folder" in message and "--allow-dir" in message
        assert job_count(client) == 0
    with open_studio(folder="bare") as client:
        _, style = samples(client)
        assert client.get("/api/folders").json() == {"roots": [], "folders": [],
                                                      "default": None}
        message = one_line_error(
            client.post("/api/jobs", json=train_body(style, "0123456789ab", "never")))
        assert "content folder" in message
        assert job_count(client) == 0


def test_the_folders_are_the_roots_and_their_subfolders(open_studio, tmp_path, small_photo):
    root = tmp_path / "root"
    (root / "cats").mkdir(parents=True)
    (root / ".hidden").mkdir()
    small_photo(root / "cats" / "a.png", 1)
    small_photo(root / "cats" / "b.jpg", 2)
    (root / "cats" / "readme.txt").write_text("not a photo")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with open_studio(allow_dirs=[root]) as client:
        listed = client.get("/api/folders").json()
    assert listed["roots"] == [str(root.resolve())]
    folders = {f["path"]: f for f in listed["folders"]}
    assert set(folders) == {str(root.resolve()), str((root / "cats").resolve())}
    assert folders[str((root / "cats").resolve())]["images"] == 2
    assert listed["default"] == folders[str((root / "cats").resolve())]["id"]  # not the root
    assert len({f["id"] for f in listed["folders"]}) == 2


# -- 6. the token --------------------------------------------------------------------------
def test_a_studio_with_a_token_answers_only_requests_that_carry_it(open_studio):
    with open_studio(token="s3cret") as client:
        for path in ("/", "/api/jobs", "/api/catalogue", "/static/studio.js"):
            assert "token" in one_line_error(client.get(path), 401), path
        assert one_line_error(client.post("/api/jobs", json={"kind": "stylize"}), 401)
        for wrong in ({"params": {"token": "wrong"}},
                      {"headers": {"authorization": "Bearer wrong"}},
                      {"headers": {"authorization": "Basic s3cret"}},
                      {"headers": {"cookie": "styx_token=wrong"}},
                      {"params": {"token": ""}}):
            assert one_line_error(client.get("/api/jobs", **wrong), 401), wrong
        opened = client.get("/", params={"token": "s3cret"})
        assert opened.status_code == 200 and "styx studio" in opened.text
        cookie = opened.headers["set-cookie"]
        assert cookie.startswith("styx_token=s3cret") and "HttpOnly" in cookie
        # the browser keeps the cookie: the page's own requests carry no token
        assert client.get("/api/jobs").status_code == 200
        assert client.get("/static/studio.js").status_code == 200
        client.cookies.clear()
        assert client.get("/api/jobs").status_code == 401
        bearer = client.get("/api/jobs", headers={"authorization": "Bearer s3cret"})
        assert bearer.status_code == 200 and "set-cookie" not in bearer.headers
        assert client.get("/api/jobs").status_code == 401


@pytest.mark.parametrize("wrong", [{"params": {"token": "s3crét"}},
                                   {"headers": {"authorization": "Bearer s3cr\xe9t"
                                                .encode("latin-1")}}],
                         ids=["query", "header"])
def test_a_non_ascii_token_is_a_401_not_a_server_error(open_studio, wrong):
    with open_studio(token="s3cret", raise_server_exceptions=False) as client:
        assert client.get("/api/jobs", **wrong).status_code == 401


# -- 7. a restart --------------------------------------------------------------------------
def test_a_restart_marks_unfinished_jobs_interrupted_and_keeps_the_history(
        open_studio, tmp_path):
    from styx.studio.store import Store

    store = Store(tmp_path / "studio")
    earlier = store.add_job("stylize", "gatys", {"content": None, "styles": []})
    store.update_job(earlier.id, state="done", finished=time.time())
    left = store.add_job("stylize", "gatys", {"content": None, "styles": []})
    store.update_job(left.id, state="running", started=time.time())
    store.close()
    with open_studio() as client:
        jobs = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
        assert set(jobs) == {earlier.id, left.id}
        assert jobs[earlier.id]["state"] == "done"
        assert jobs[left.id]["state"] == "interrupted"
        assert "server stopped" in jobs[left.id]["error"]
        assert client.get("/api/jobs?live=1").json()["jobs"] == []
        assert one_line_error(client.post(f"/api/jobs/{left.id}/stop"), 409)


def test_leaving_the_app_interrupts_a_running_job_and_keeps_its_picture(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        done = wait_final(client, start(client, gatys(content, style, steps="2"))["id"])
        running = start(client, gatys(content, style, steps=LONG))
        wait_step(client, running["id"], 2)
    with open_studio() as client:
        jobs = {j["id"]: j for j in client.get("/api/jobs").json()["jobs"]}
        assert jobs[done["id"]]["state"] == "done"
        again = jobs[running["id"]]
        assert again["state"] == "interrupted"
        assert again["summary"]["interrupted"] is True
        assert 2 <= again["summary"]["steps"] < int(LONG)
        assert picture(client.get(again["result"])).size == tuple(
            done["summary"][k] for k in ("width", "height"))


# -- 8. server-sent events -----------------------------------------------------------------
def read_events(response):
    """(event, data) of an event stream, as they come."""
    event, data = None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and event is not None:
            yield event, json.loads("\n".join(data))
            event, data = None, []


def test_the_event_stream_sends_hello_job_states_and_progress(tmp_path):
    from live_server import live_studio

    from styx.studio.app import StudioSettings

    settings = StudioSettings(folder=tmp_path / "studio", study_dirs=[])
    with live_studio(settings) as (url, _app), httpx.Client(base_url=url, timeout=30) as http:
        content, style = samples(http)
        seen: list[tuple[str, dict]] = []
        job_id = None
        with http.stream("GET", "api/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            for event, data in read_events(stream):
                seen.append((event, data))
                if event == "hello":
                    assert data["live"] == []
                    job_id = start(http, gatys(content, style, steps="6"))["id"]
                elif event == "job" and data["job"]["id"] == job_id and \
                        data["job"]["state"] in FINAL:
                    break
    assert seen[0][0] == "hello"
    states = [d["job"]["state"] for e, d in seen if e == "job"]
    assert states[0] == "queued" and "running" in states and states[-1] == "done"
    progress = [d for e, d in seen if e == "progress"]
    assert progress and all(p["id"] == job_id for p in progress)
    assert all(p["total"] == 6 and 1 <= p["step"] <= 6 for p in progress)
    assert progress[-1]["step"] == 6  # the last step is always sent
    assert [p["step"] for p in progress] == sorted(p["step"] for p in progress)


# -- 9. studies ----------------------------------------------------------------------------
def test_study_reports_are_listed_and_only_their_files_served(open_studio, tmp_path,
                                                             small_photo):
    experiments = tmp_path / "experiments"
    study = experiments / "tv-weight"
    (study / "plots").mkdir(parents=True)
    (study / "report.html").write_text('<h1>tv-weight</h1><img src="grid.png">')
    small_photo(study / "grid.png", 3)
    small_photo(study / "plots" / "x.png", 4)
    (study / "run.py").write_text("print('not a report file')")
    (tmp_path / "secret.txt").write_text("the server's own file")
    (study / "plots" / "leak.txt").symlink_to(tmp_path / "secret.txt")
    with open_studio(study_dirs=[experiments]) as client:
        studies = client.get("/api/studies").json()["studies"]
        assert [s["name"] for s in studies] == ["tv-weight"]
        study_id = studies[0]["id"]
        assert studies[0]["url"] == f"/studies/{study_id}/report.html"
        report = client.get(studies[0]["url"])
        assert report.status_code == 200 and "<h1>tv-weight</h1>" in report.text
        assert report.headers["content-type"].startswith("text/html")
        assert picture(client.get(f"/studies/{study_id}/plots/x.png")).size == (40, 32)
        assert picture(client.get(f"/studies/{study_id}/grid.png")).size == (40, 32)
        for path in (f"/studies/{study_id}/../../etc/passwd",
                     f"/studies/{study_id}/%2e%2e/%2e%2e/secret.txt",
                     f"/studies/{study_id}/..%2F..%2Fsecret.txt",
                     f"/studies/{study_id}/%2Fetc%2Fpasswd",
                     f"/studies/{study_id}/plots/leak.txt",
                     f"/studies/{study_id}/run.py",
                     f"/studies/{study_id}/nope.png",
                     "/studies/000000000000/report.html"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "secret" not in response.text and "root:" not in response.text


# -- 10. delete ----------------------------------------------------------------------------
def test_deleting_a_finished_job_removes_it_and_a_live_one_is_refused(open_studio, tmp_path):
    with open_studio() as client:
        content, style = samples(client)
        done = wait_final(client, start(client, gatys(content, style, steps="2"))["id"])
        assert (tmp_path / "studio" / "results" / f"{done['id']}.png").is_file()
        response = client.delete(f"/api/jobs/{done['id']}")
        assert response.status_code == 200 and response.json() == {"deleted": done["id"]}
        assert one_line_error(client.get(f"/api/jobs/{done['id']}"), 404)
        assert client.get(f"/api/jobs/{done['id']}/result.png").status_code == 404
        assert not (tmp_path / "studio" / "results" / f"{done['id']}.png").exists()
        assert one_line_error(client.delete(f"/api/jobs/{done['id']}"), 404)
        live = start(client, gatys(content, style, steps=LONG))
        assert "stop the job first" in one_line_error(
            client.delete(f"/api/jobs/{live['id']}"), 409)
        client.post(f"/api/jobs/{live['id']}/stop")
        assert wait_final(client, live["id"])["state"] in ("stopped", "cancelled")
        assert client.delete(f"/api/jobs/{live['id']}").status_code == 200
        assert job_count(client) == 0


# -- 11. styx serve ------------------------------------------------------------------------
@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("LOCALHOST", True), ("0.0.0.0", False), ("::", False),
    ("192.168.1.2", False), ("example.com", False), ("", False)])
def test_is_loopback(host, loopback):
    from styx.cli.serve import is_loopback

    assert is_loopback(host) is loopback


def error_lines(stderr: str) -> list[str]:
    """The lines of a styx error: one ``error:`` line, perhaps one ``hint:`` line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2 and lines[0].startswith("error:"), stderr
    assert len(lines) == 1 or lines[1].startswith("hint:"), stderr
    return lines


@pytest.fixture
def never_serve(monkeypatch):
    """``styx serve`` fails the test instead of serving forever."""
    from styx.cli import serve

    class Refused:
        def run(self):
            raise AssertionError("styx serve got as far as serving")

    monkeypatch.setattr(serve, "_server", lambda config, app: Refused())


def test_serve_with_a_missing_allowed_folder_is_one_error_line(styx_cli, never_serve,
                                                               tmp_path):
    result = styx_cli("serve", "--allow-dir", "/no/such/dir", "--folder",
                      str(tmp_path / "studio"))
    assert result.exit_code == 2, result
    lines = error_lines(result.stderr)
    assert "/no/such/dir" in lines[0] and "not a folder" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


def test_serve_on_a_port_in_use_is_one_error_line(styx_cli, never_serve, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = styx_cli("serve", "--port", str(port), "--folder", str(tmp_path / "studio"))
    assert result.exit_code == 2, result
    lines = error_lines(result.stderr)
    assert f"cannot listen on 127.0.0.1:{port}" in lines[0]
    assert "--port" in lines[-1]  # the hint: choose another port
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "studio").exists()  # nothing was set up


def test_the_app_stops_its_workers_when_the_client_closes(open_studio):
    with open_studio() as client:
        studio = client.app_state.studio
        assert studio.started
    assert not studio.started and studio.events.closed
    assert studio.runner._threads and not any(t.is_alive() for t in studio.runner._threads)
