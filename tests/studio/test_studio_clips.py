"""Clips in the studio: an upload checked by what it is (never by its name or the browser's
word) and refused past the size, length and frame-size limits; a trained model's job of a
clip, its progress in frames over the event stream, its video served (with ranges) and its
first frame as its picture; stopped, the frames done kept as a playable video.

Every clip is a few frames of 64 x 48 and every model a tiny texture network (made, not
trained): a job takes a second or two.
"""

from __future__ import annotations

import io
import json
import time

import httpx
import pytest
from PIL import Image
from studio_page import clip

FINAL = ("done", "failed", "stopped", "cancelled", "interrupted")


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    """An 8-frame 64 x 48 mp4."""
    return clip(tmp_path_factory.mktemp("clips") / "walk.mp4")


def upload(client, path, name: str | None = None) -> dict:
    response = client.post("/api/clips", files={"file": (name or path.name, path.read_bytes())})
    assert response.status_code == 201, response.text
    return response.json()


def refusal(response, status: int = 400) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert message and "\n" not in message
    return message


def start(client, body: dict) -> dict:
    response = client.post("/api/jobs", json={"kind": "stylize", **body})
    assert response.status_code == 201, response.text
    return response.json()


def wait_final(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while (job := client.get(f"/api/jobs/{job_id}").json())["state"] not in FINAL:
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    return job


def video_of(data: bytes, tmp_path, name: str = "got.mp4"):
    """The clip of ``data`` (a served video), opened and checked by the library."""
    from styx.video.clips import open_clip

    path = tmp_path / name
    path.write_bytes(data)
    return open_clip(path)


def picture(response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content))


# -- uploads -------------------------------------------------------------------------------
def test_a_clip_uploads_with_its_size_length_and_first_frame(open_studio, clip_file, tmp_path):
    with open_studio() as client:
        record = upload(client, clip_file)
        assert record["kind"] == "clip" and record["name"] == "walk.mp4"
        assert (record["width"], record["height"], record["frames"]) == (64, 48, 8)
        assert record["fps"] == 24 and record["seconds"] == pytest.approx(8 / 24, abs=0.01)
        assert picture(client.get(record["url"])).size == (64, 48)
        stored = tmp_path / "studio" / "clips" / f"{record['id']}.clip"
        assert stored.read_bytes() == clip_file.read_bytes()  # kept as sent
        catalogue = client.get("/api/catalogue").json()
        assert [c["id"] for c in catalogue["clips"]] == [record["id"]]
        assert catalogue["clip_limits"]["frames"] == 1800
        assert ".webm" in catalogue["clip_limits"]["suffixes"]
        # the same bytes under another name are the same clip
        assert upload(client, clip_file, "again.mov")["id"] == record["id"]
        assert len(client.get("/api/catalogue").json()["clips"]) == 1


@pytest.mark.parametrize("suffix", [".mkv", ".avi", ".mov"])
def test_other_containers_are_taken(open_studio, tmp_path, suffix):
    with open_studio() as client:
        record = upload(client, clip(tmp_path / f"c{suffix}", frames=3))
        assert (record["width"], record["height"], record["frames"]) == (64, 48, 3)


def test_a_turned_clip_is_shown_upright(open_studio, tmp_path):
    with open_studio() as client:
        record = upload(client, clip(tmp_path / "phone.mp4", frames=3, rotation=90))
        assert (record["width"], record["height"]) == (48, 64)
        assert picture(client.get(record["url"])).size == (48, 64)


@pytest.mark.parametrize("name, data", [
    ("photo.mp4", "png"),
    ("notes.mp4", b"just some text, not a video at all"),
    ("playlist.mp4", b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n"),
    ("cut.mp4", "truncated"),
    ("empty.mp4", b""),
], ids=["a-png", "text", "a-playlist", "truncated", "empty"])
def test_what_is_not_a_whole_video_is_refused(open_studio, clip_file, tmp_path, name, data):
    if data == "png":
        buffer = io.BytesIO()
        Image.new("RGB", (20, 10)).save(buffer, format="PNG")
        data = buffer.getvalue()
    elif data == "truncated":
        data = clip_file.read_bytes()[:400]
    with open_studio() as client:
        message = refusal(client.post("/api/clips", files={"file": (name, data)}))
        assert name in message
        assert str(tmp_path) not in message and "upload-" not in message
        assert client.get("/api/catalogue").json()["clips"] == []
        assert list((tmp_path / "studio" / "clips").iterdir()) == []  # nothing left behind


def test_a_clip_over_the_size_limit_is_refused_even_without_a_length(open_studio, clip_file):
    data = clip_file.read_bytes()
    limit = len(data) // 2
    with open_studio(max_clip_bytes=limit) as client:
        message = refusal(client.post("/api/clips", files={"file": ("walk.mp4", data)}))
        assert "limit" in message and "MiB" in message
        # a chunked body says no length: it is counted as it comes
        boundary = "styxboundary"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"walk.mp4\"\r\nContent-Type: video/mp4\r\n\r\n").encode() + \
            data * 400 + f"\r\n--{boundary}--\r\n".encode()

        def chunks():
            for start in range(0, len(body), 4096):
                yield body[start:start + 4096]

        response = client.post("/api/clips", content=chunks(), headers={
            "content-type": f"multipart/form-data; boundary={boundary}"})
        assert "limit" in refusal(response)
        assert client.get("/api/catalogue").json()["clips"] == []


def test_an_image_upload_is_counted_as_it_comes_too(open_studio, monkeypatch):
    from styx.studio import app

    monkeypatch.setattr(app, "MAX_UPLOAD_BYTES", 2000)
    monkeypatch.setattr(app, "MULTIPART_SLACK", 0)
    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buffer, format="PNG")
    boundary = "styxboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.png\"\r\n\r\n").encode() + buffer.getvalue() + \
        f"\r\n--{boundary}--\r\n".encode()
    with open_studio() as client:
        response = client.post("/api/images", content=iter([body[:1000], body[1000:]]),
                               headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert "limit" in refusal(response)


def test_a_clip_too_long_is_refused_with_its_length(open_studio, clip_file):
    with open_studio(max_clip_frames=5) as client:
        message = refusal(client.post("/api/clips",
                                      files={"file": ("walk.mp4", clip_file.read_bytes())}))
        assert "walk.mp4 has 8 frames" in message and "limit of 5 frames" in message
        assert "trim it" in message


def test_a_clip_of_frames_too_large_is_refused(open_studio, clip_file):
    with open_studio(max_clip_pixels=1000) as client:
        message = refusal(client.post("/api/clips",
                                      files={"file": ("walk.mp4", clip_file.read_bytes())}))
        assert "64 x 48" in message and "megapixels" in message


def test_deleting_a_clip(open_studio, clip_file, tmp_path):
    with open_studio() as client:
        record = upload(client, clip_file)
        response = client.delete(f"/api/clips/{record['id']}")
        assert response.status_code == 200 and response.json() == {"deleted": record["id"]}
        assert client.get("/api/catalogue").json()["clips"] == []
        assert refusal(client.get(record["url"]), 404) == "no such clip"
        assert list((tmp_path / "studio" / "clips").iterdir()) == []
        assert refusal(client.delete(f"/api/clips/{record['id']}"), 404) == "no such clip"
        assert refusal(client.delete("/api/clips/..%2F..%2Fx"), 404)


# -- jobs ----------------------------------------------------------------------------------
def test_bad_clip_jobs_are_refused_and_start_nothing(open_studio, clip_file, clip_model):
    with open_studio() as client:
        clip_id = upload(client, clip_file)["id"]
        photo = next(i["id"] for i in client.get("/api/catalogue").json()["images"])
        cases = {
            "trained model": {"method": "gatys", "clip": clip_id},
            "not both": {"model": clip_model, "clip": clip_id, "content": photo},
            "no clip": {"model": clip_model, "clip": "0123456789abcdef"},
            "0 to 1": {"model": clip_model, "clip": clip_id, "video": {"temporal": "2"}},
            "no video option": {"model": clip_model, "clip": clip_id, "video": {"fps": 3}},
        }
        for words, body in cases.items():
            response = client.post("/api/jobs", json={"kind": "stylize", **body})
            assert words in refusal(response), words
        response = client.post("/api/jobs", json={"kind": "stylize", "model": clip_model,
                                                  "clip": clip_id, "video": {"temporal": "x"}})
        assert response.json()["field"] == "temporal"
        assert client.get("/api/jobs").json()["jobs"] == []


def test_a_clip_job_runs_to_done_with_frame_progress_and_its_video(tmp_path, clip_file,
                                                                   clip_model):
    from live_server import live_studio
    from test_studio_api import read_events

    from styx.studio.app import StudioSettings

    settings = StudioSettings(folder=tmp_path / "studio", study_dirs=[])
    with live_studio(settings) as (url, _app), httpx.Client(base_url=url, timeout=30) as http:
        clip_id = upload(http, clip_file)["id"]
        seen: list[tuple[str, dict]] = []
        job_id = None
        with http.stream("GET", "api/events") as stream:
            for event, data in read_events(stream):
                seen.append((event, data))
                if event == "hello":
                    job_id = start(http, {"model": clip_model, "clip": clip_id,
                                          "options": {"seed": "3"}})["id"]
                elif event == "job" and data["job"]["id"] == job_id and \
                        data["job"]["state"] in FINAL:
                    break
        job = http.get(f"api/jobs/{job_id}").json()
        assert job["state"] == "done", job["error"]
        progress = [d for e, d in seen if e == "progress" and d["id"] == job_id]
        assert progress and all(p["unit"] == "frame" and p["total"] == 8 for p in progress)
        assert [p["step"] for p in progress] == sorted(p["step"] for p in progress)
        assert progress[-1]["step"] == 8  # the last frame is always sent
        assert progress[-1]["fps"] > 0 and progress[-1]["eta"] == 0
        summary = job["summary"]
        assert (summary["frames"], summary["total"], summary["kept"]) == (8, 8, 8)
        assert (summary["width"], summary["height"]) == (64, 48)
        assert summary["interrupted"] is False and summary["fps"] > 0
        assert job["request"]["clip"] == clip_id and job["request"]["video"] == {"temporal": None}
        assert job["settings"]["video"]["long_side"] is None and job["settings"]["seed"] == 3

        response = http.get(job["video"])
        assert job["video"] == f"/api/jobs/{job_id}/result.mp4"
        assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
        made = video_of(response.content, tmp_path)
        assert (made.width, made.height, made.frame_count) == (64, 48, 8)
        assert made.codec == "h264" and float(made.rate) == 24
        part = http.get(job["video"], headers={"range": "bytes=0-99"})  # a player seeks
        assert part.status_code == 206 and part.content == response.content[:100]
        download = http.get(job["video"], params={"download": "1"})
        assert download.headers["content-disposition"] == \
            f'attachment; filename="styx-texture-nets-{job_id}.mp4"'
        assert picture(http.get(job["result"])).size == (64, 48)  # the first frame
        assert list((tmp_path / "studio" / "work").iterdir()) == []  # its segments gone
        # a clip a finished job used may go; the job keeps its video
        assert http.delete(f"api/clips/{clip_id}").status_code == 200
        assert http.get(job["video"]).status_code == 200
        assert http.delete(f"api/jobs/{job_id}").status_code == 200
        assert refusal(http.get(job["video"]), 404) == "no such video"
        assert not (tmp_path / "studio" / "results" / f"{job_id}.mp4").exists()


def test_a_turned_clips_result_is_upright_where_it_is_a_picture(open_studio, tmp_path,
                                                                clip_model):
    with open_studio() as client:
        clip_id = upload(client, clip(tmp_path / "phone.mp4", frames=4, rotation=90))["id"]
        job = wait_final(client, start(client, {"model": clip_model, "clip": clip_id})["id"])
        assert job["state"] == "done", job["error"]
        assert (job["summary"]["width"], job["summary"]["height"]) == (48, 64)
        assert picture(client.get(job["result"])).size == (48, 64)
        made = video_of(client.get(job["video"]).content, tmp_path)
        assert made.rotation == 90 and (made.width, made.height) == (64, 48)  # players turn it


def test_a_clip_job_stops_with_the_frames_done_playable(open_studio, tmp_path, clip_model,
                                                       monkeypatch):
    from styx.studio import jobs

    monkeypatch.setattr(jobs, "CLIP_BATCH", 1)  # a stop between frames, not batches
    watch = jobs.ClipReporter.watch

    def slowly(reporter, stylise):  # 40 frames take 2 s at least: the stop comes first
        def slow(frames):
            time.sleep(0.05)
            return stylise(frames)
        return watch(reporter, slow)

    monkeypatch.setattr(jobs.ClipReporter, "watch", slowly)
    with open_studio() as client:
        clip_id = upload(client, clip(tmp_path / "long.mp4", frames=40))["id"]
        job_id = start(client, {"model": clip_model, "clip": clip_id})["id"]
        deadline = time.monotonic() + 60
        while (client.get(f"/api/jobs/{job_id}").json().get("progress") or {}).get("step", 0) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert "stop it first" in refusal(client.delete(f"/api/clips/{clip_id}"), 409)
        running = client.get(f"/api/jobs/{job_id}").json()
        assert running["state"] == "running" and running["frames"] >= 1
        assert picture(client.get(f"/api/jobs/{job_id}/frame.png")).size == (64, 48)
        assert client.post(f"/api/jobs/{job_id}/stop").status_code == 200
        job = wait_final(client, job_id)
        assert job["state"] == "stopped"
        summary = job["summary"]
        assert summary["interrupted"] is True and 2 <= summary["kept"] < 40
        made = video_of(client.get(job["video"]).content, tmp_path)
        assert made.frame_count == summary["kept"]
        assert picture(client.get(job["result"])).size == (64, 48)
        assert list((tmp_path / "studio" / "work").iterdir()) == []


def test_leftover_segments_of_a_killed_server_are_removed_at_start(open_studio, tmp_path):
    leftover = tmp_path / "studio" / "work" / "0123456789ab"
    leftover.mkdir(parents=True)
    (leftover / "segment-000000.mp4").write_bytes(b"x")
    with open_studio():
        assert not leftover.exists()


def test_a_preview_of_a_clip_uses_its_first_frame(open_studio, clip_file, clip_model):
    with open_studio() as client:
        clip_id = upload(client, clip_file)["id"]
        response = client.post("/api/preview", json={"model": clip_model, "clip": clip_id,
                                                     "size": 32})
        assert picture(response).size == (32, 24)


# -- security ------------------------------------------------------------------------------
def test_no_page_of_another_site_may_upload_a_clip_or_read_a_video(open_studio, clip_file):
    with open_studio() as client:
        clip_id = upload(client, clip_file)["id"]
        response = client.post("/api/clips", headers={"origin": "http://evil.example"},
                               files={"file": ("walk.mp4", clip_file.read_bytes()[::-1])})
        assert response.status_code == 403
        cross = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"}
        for path in (f"/api/clips/{clip_id}/poster.png", "/api/jobs/0123456789ab/result.mp4"):
            assert client.get(path, headers=cross).status_code == 403
        assert client.delete(f"/api/clips/{clip_id}",
                             headers={"origin": "http://evil.example"}).status_code == 403
        assert len(client.get("/api/catalogue").json()["clips"]) == 1


def test_the_page_offers_clips(open_studio):
    with open_studio() as client:
        page = client.get("/").text
        assert 'id="content-upload"' in page and "video/*" in page and 'id="clip-form"' in page
        script = client.get("/static/studio.js").text
        assert "/api/clips" in script and "result-video" in script
        assert json.loads(json.dumps(client.get("/api/catalogue").json()["clip_limits"]))
