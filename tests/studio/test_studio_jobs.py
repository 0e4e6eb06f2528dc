"""The studio's jobs as the page meets them: a StyleBank of several styles trained to the
end, the loss curve kept through a ``kill -9``, the time left at the recent pace, a run
with no content photo refused before work, errors in the page's words (and the field at
fault), the form's labels, the content folder offered first.

Runs use random descriptor weights and 32 px, as in test_studio_api.py; the one test that
starts ``styx serve`` in a process of its own is marked slow.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from ports import free_port
from test_studio_api import (
    FAST,
    LONG,
    gatys,
    job_count,
    job_of,
    one_line_error,
    picture,
    samples,
    start,
    wait_final,
)


def folder_id(client, path) -> str:
    folders = {f["path"]: f for f in client.get("/api/folders").json()["folders"]}
    return folders[str(path.resolve())]["id"]


def upload(client, name: str, color: tuple[int, int, int]) -> str:
    from test_studio_api import png

    response = client.post("/api/images", files={"file": (name, png((40, 32), color))})
    assert response.status_code == 201, response.text
    return response.json()["id"]


# -- 1. a StyleBank of several styles ------------------------------------------------------
def test_a_two_style_stylebank_trained_in_the_studio_ends_done_and_is_listed(open_studio,
                                                                            photos):
    name = f"bank2-{time.time_ns() % 10**8}"
    with open_studio(allow_dirs=[photos]) as client:
        content, starry = samples(client)
        red = upload(client, "red.png", (200, 30, 30))
        body = {"kind": "train", "method": "stylebank", "styles": [starry, red],
                "content_folder": folder_id(client, photos),
                "options": {"iterations": "4", "image_size": "32", "batch_size": "1",
                            "log_every": "1", **FAST, "name": name}}
        job = wait_final(client, start(client, body)["id"], timeout=120)
        assert job["state"] == "done", job["error"]
        assert job["summary"]["name"] == name and job["summary"]["iterations"] == 4
        assert job["settings"]["iterations"] == 4
        assert [entry["step"] for entry in job["history"]] == [1, 2, 3, 4]
        assert picture(client.get(job["result"])).size[0] > 0
        models = {m["name"]: m for m in client.get("/api/catalogue").json()["models"]}
        assert models[name]["method"] == "stylebank" and models[name]["error"] is None
        assert len(models[name]["styles"]) == 2

        # its run without a chosen style fails in the queue: the stored error is the
        # page's words, naming the form's fields by their labels
        run = wait_final(client, start(client, {"kind": "stylize", "model": name,
                                                "content": content,
                                                "options": {"long_side": "32"}})["id"])
        assert run["state"] == "failed"
        assert "holds 2 styles" in run["error"] and "--style" not in run["error"]
        assert '"The style"' in run["error"] and "NAME|INDEX" not in run["error"]
        assert "its styles: 0 " in run["error"] and "styx " not in run["error"]
        chosen = wait_final(client, start(client, {"kind": "stylize", "model": name,
                                                   "content": content,
                                                   "options": {"long_side": "32",
                                                               "style": "1"}})["id"])
        assert chosen["state"] == "done", chosen["error"]


# -- 2. the loss curve through a kill -9 ---------------------------------------------------
@pytest.mark.slow
def test_a_killed_server_leaves_the_loss_curve_of_its_running_job(tmp_path, photos,
                                                                  open_studio):
    port = free_port()
    folder = tmp_path / "served"
    env = {**os.environ, "STYX_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    server = subprocess.Popen(
        [sys.executable, "-m", "styx", "serve", "--port", str(port), "--folder", str(folder),
         "--allow-dir", str(photos)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("styx studio: "), (line, server.stderr.read())
        url = line.split(": ", 1)[1].strip()
        with httpx.Client(base_url=url, timeout=30) as client:
            _, style = samples(client)
            body = {"kind": "train", "method": "texture-nets", "styles": [style],
                    "content_folder": folder_id(client, photos),
                    "options": {"iterations": "100000", "image_size": "32",
                                "batch_size": "1", "log_every": "1", **FAST,
                                "name": "killed"}}
            job = start(client, body)
            deadline = time.monotonic() + 90
            while (job_of(client, job["id"]).get("progress") or {}).get("step", 0) < 3:
                assert time.monotonic() < deadline, "the job did not start"
                time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        server.stdout.close()
        server.stderr.close()
    with open_studio(folder=str(folder)) as client:
        again = job_of(client, job["id"])
    assert again["state"] == "interrupted"
    assert again["history"], "no loss curve was kept"
    assert again["history"][0]["step"] == 1 and again["history"][0]["total"] > 0


def test_a_curve_is_written_now_and_then_and_stays_bounded():
    from styx.studio.jobs import Curve

    class Writes:
        def __init__(self) -> None:
            self.histories: list[list[dict]] = []

        def update_job(self, job_id: str, **values) -> None:
            self.histories.append(list(values["history"]))

    store = Writes()
    curve = Curve(store, "0123456789ab", interval=3600.0, limit=100)  # type: ignore[arg-type]
    for step in range(1, 1001):
        curve.add({"step": step, "total": 1.0 / step})
    assert [len(h) for h in store.histories] == [1]  # the first point at once, then waits
    curve.save()
    assert len(store.histories) == 2
    kept = store.histories[-1]
    assert len(kept) <= 100
    assert kept[0]["step"] == 1 and kept[-1]["step"] == 1000
    curve.save()  # nothing new: nothing written
    assert len(store.histories) == 2


def test_a_resumed_curve_goes_on_from_where_the_run_went_on():
    from styx.studio.jobs import Curve

    class Nowhere:
        def update_job(self, job_id: str, **values) -> None:
            pass

    earlier = [{"step": step, "total": 1.0} for step in (1, 2, 3, 4, 5, 6)]
    curve = Curve(Nowhere(), "0123456789ab", earlier)  # type: ignore[arg-type]
    curve.add({"step": 5, "total": 0.5})  # the checkpoint was at step 4
    assert [p["step"] for p in curve.points] == [1, 2, 3, 4, 5]


def test_stopping_a_gatys_run_keeps_its_curve_with_the_steps_it_read(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        job = start(client, gatys(content, style, steps=LONG))
        deadline = time.monotonic() + 60
        while (job_of(client, job["id"]).get("progress") or {}).get("step", 0) < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        client.post(f"/api/jobs/{job['id']}/stop")
        stopped = wait_final(client, job["id"])
    assert stopped["state"] == "stopped"
    steps = [entry["step"] for entry in stopped["history"]]
    assert steps and steps == sorted(steps) and steps[0] == 1


@pytest.mark.parametrize("length", [1, 2, 999, 1000, 1001, 5000, 100_000])
def test_thinning_keeps_at_most_the_limit_the_ends_and_the_recent_points(length):
    from styx.studio.jobs import CURVE_POINTS, thinned

    points = [{"step": step} for step in range(1, length + 1)]
    kept = thinned(points)
    steps = [p["step"] for p in kept]
    assert len(kept) == min(length, CURVE_POINTS) if length <= CURVE_POINTS else \
        CURVE_POINTS // 2 < len(kept) <= CURVE_POINTS
    assert steps[0] == 1 and steps[-1] == length
    assert steps == sorted(set(steps))
    recent = min(length, CURVE_POINTS // 2)
    assert steps[-recent:] == list(range(length - recent + 1, length + 1))


# -- 3. the time left ----------------------------------------------------------------------
def test_the_time_left_follows_the_recent_pace_not_the_slow_start():
    from styx.studio.jobs import Pace, step_progress

    total, first, rest = 40, 10.0, 1.0  # the first step also loads the model: 10x slower
    pace = Pace()
    etas = {}
    for step in range(1, total + 1):
        seconds = first + rest * (step - 1)
        etas[step] = step_progress(step, total, seconds, None, pace)["eta"]
    assert etas[1] is None  # nothing to go by yet
    true_left = rest * (total - 3)
    assert abs(etas[3] - true_left) <= 0.25 * true_left, etas[3]
    assert etas[total] == 0.0
    # the old reckoning, seconds per step since the start, said this at step 3:
    assert abs(12.0 / 3 * (total - 3) - true_left) > 0.25 * true_left


def test_a_run_that_goes_back_starts_its_pace_again():
    from styx.studio.jobs import Pace

    pace = Pace()
    for step, seconds in [(10, 100.0), (11, 101.0), (5, 300.0)]:
        pace.report(step, seconds)
    assert pace.seconds_left(20) is None
    pace.report(6, 302.0)
    assert pace.seconds_left(20) == 28.0


# -- 4. no content photo -------------------------------------------------------------------
def test_a_model_run_without_a_content_photo_is_refused_before_work(open_studio,
                                                                    trained_model):
    with open_studio() as client:
        content, style = samples(client)
        response = client.post("/api/jobs", json={"kind": "stylize", "model": trained_model,
                                                  "options": {"long_side": "32"}})
        assert one_line_error(response) == "pick a content photo first"
        assert job_count(client) == 0
        # a texture needs none; with one it is refused in the page's words
        texture = start(client, {"kind": "stylize", "model": trained_model,
                                 "options": {"texture": True, "size": "32x32"}})
        assert wait_final(client, texture["id"])["state"] == "done"
        refused = client.post("/api/jobs", json={
            "kind": "stylize", "model": trained_model, "content": content,
            "options": {"texture": True, "size": "32x32"}})
        message = one_line_error(refused)
        assert message.startswith('"Texture" takes no content images'), message
        assert "styx " not in message and "--" not in message
        assert refused.json()["field"] == "texture"
        # gatys without a content photo stylises the bundled one: taken
        assert client.post("/api/jobs", json={**gatys(content, style, steps="2"),
                                               "content": None}).status_code == 201


# -- 5. errors in the page's words ---------------------------------------------------------
def test_a_bad_value_names_the_fields_label_and_the_field(open_studio):
    with open_studio() as client:
        content, style = samples(client)
        response = client.post("/api/jobs", json=gatys(content, style, steps="0"))
        assert one_line_error(response) == \
            '"Optimiser steps per scale" cannot be 0 (it must be a whole number >= 1)'
        assert response.json()["field"] == "steps"
        response = client.post("/api/jobs", json=gatys(content, style, init="~/photo.png"))
        assert one_line_error(response).startswith('"Starting image" \'~/photo.png\' names')
        assert response.json()["field"] == "init"
        response = client.post("/api/jobs", json=gatys(content, style, bogus="1"))
        assert one_line_error(response) == \
            "no option 'bogus' here (the form lists the options this method takes)"
        assert "field" not in response.json()
        response = client.post("/api/jobs", json={"kind": "stylize", "model": "nothing-here",
                                                  "content": content})
        message = one_line_error(response)
        assert "no model" in message and "'nothing-here'" in message
        assert "styx" not in message  # the hint was a command line
        assert job_count(client) == 0


def test_a_training_error_and_a_preview_error_are_worded_for_the_page(open_studio, photos,
                                                                      trained_model):
    with open_studio(allow_dirs=[photos]) as client:
        content, style = samples(client)
        response = client.post("/api/jobs", json={
            "kind": "train", "method": "texture-nets", "styles": [style],
            "content_folder": folder_id(client, photos),
            "options": {"iterations": "-3", "name": "never"}})
        message = one_line_error(response)
        assert message.startswith('"Training iterations" cannot be -3'), message
        assert response.json()["field"] == "iterations"
        response = client.post("/api/preview", json={"model": trained_model,
                                                     "content": content,
                                                     "options": {"seed": "soon"}})
        assert one_line_error(response).startswith(
            '"Seed of everything random in the run" cannot be \'soon\''), response.text
        assert response.json()["field"] == "seed"
        response = client.post("/api/preview", json={"model": trained_model})
        assert one_line_error(response) == "pick a content photo first"
        assert job_count(client) == 0


def test_page_error_words_flags_drops_command_lines_and_names_one_field():
    from styx.core.errors import StyxError
    from styx.studio.forms import field_label, page_error

    fields = [{"name": name, "flag": "--" + name.replace("_", "-"),
               "label": field_label(name, text)}
              for name, text in [("tile", "Stylise images larger than this in overlapping tiles."),
                                 ("overlap", "Pixels neighbouring tiles share; blended."),
                                 ("texture", "Synthesise a texture instead of a photo.")]]
    one = page_error(StyxError("missing --tile", "styx run x --tile 512 IMAGE -o OUT"), fields)
    assert (str(one), one.field) == ('"Tile" is needed', "tile")
    two = page_error(StyxError("--overlap 64 does not fit --tile 32", "give --tile 192 or "
                                                                       "more"), fields)
    assert str(two) == ('"Pixels neighbouring tiles share" 64 does not fit "Tile" 32 '
                        '(give "Tile" 192 or more)')
    assert two.field is None  # two fields: the page points at neither
    mixed = page_error(StyxError("no content image given",
                                 "give one; styx run texture-nets --model M IMAGE -o OUT, or "
                                 "--texture"), fields)
    assert str(mixed) == "no content image given (give one)"
    placeholder = page_error(StyxError("choose one", "give --tile PIXELS or --texture; its "
                                       "tiles: 0 a ('styx models show M')"), fields)
    assert str(placeholder) == ('choose one (give "Tile" or "Synthesise a texture instead of '
                                'a photo"; its tiles: 0 a)')
    other = page_error(StyxError("bad --port 3", "see 'styx serve --help'"), fields)
    assert (str(other), other.field) == ("bad --port 3", None)
    assert other.to_json() == {"error": "bad --port 3"}


def test_every_form_field_has_a_label_worded_for_the_page(open_studio):
    with open_studio() as client:
        methods = {m["name"]: m for m in client.get("/api/catalogue").json()["methods"]}
    for method in methods.values():
        for option in method["run_options"] + method["train_options"]:
            label = option["label"]
            assert label and label[0].isupper() and len(label) <= 40, option
            assert "--" not in label and "styx" not in label, option
    gatys_labels = {o["name"]: o["label"] for o in methods["gatys"]["run_options"]}
    assert gatys_labels["preserve_color"] == "Keep the content's colours"
    assert gatys_labels["steps"] == "Optimiser steps per scale"
    assert "lbfgs" not in gatys_labels["optimizer"].lower()
    assert gatys_labels["lbfgs_history"] == "L-BFGS memory"


@pytest.mark.parametrize(("name", "help_text", "label"), [
    ("preserve_color", "Keep the content's colours: the output's luminance.",
     "Keep the content's colours"),
    ("optimizer", "lbfgs or adam.", "Optimizer"),
    ("lbfgs_history", "L-BFGS memory (pairs of update vectors kept).", "L-BFGS memory"),
    ("region", "A painting for the white (or opaque) part of a mask, e.g. sky.png:0.",
     "A painting for the white part of a mask"),
    ("style_steps", "T of the paper's T+1 schedule: stylising steps.", "Style steps"),
    ("style_weights", "Blend several --style-image paintings, e.g. 0.7,0.3.", "Style weights"),
    ("tile", "Stylise images larger than this in overlapping tiles of this many pixels.",
     "Tile"),
    ("scales", "Coarse-to-fine long sides e.g. 256,512.", "Coarse-to-fine long sides"),
    ("lr_decay_every", "... every N iterations (0: never).", "Lr decay every"),
    ("quiet", "", "Quiet"),
])
def test_a_label_is_the_first_clause_of_the_help_or_the_name(name, help_text, label):
    from styx.studio.forms import field_label

    assert field_label(name, help_text) == label


# -- 6. the folder offered first -----------------------------------------------------------
def test_the_folders_name_the_one_with_the_most_images_as_the_default(open_studio, tmp_path,
                                                                      small_photo):
    root = tmp_path / "root"
    for sub, count in (("few", 1), ("many", 3), ("also-many", 3)):
        (root / sub).mkdir(parents=True)
        for seed in range(count):
            small_photo(root / sub / f"p{seed}.png", seed)
    empty = tmp_path / "empty"
    (empty / "nothing").mkdir(parents=True)
    with open_studio(allow_dirs=[empty, root]) as client:
        listed = client.get("/api/folders").json()
    by_id = {f["id"]: f for f in listed["folders"]}
    assert by_id[listed["default"]]["path"] == str((root / "also-many").resolve())
    assert by_id[listed["default"]]["images"] == 3  # the first listed of the fullest
    with open_studio(folder="second", allow_dirs=[empty]) as client:
        assert client.get("/api/folders").json()["default"] is None
    with open_studio(folder="third") as client:
        assert client.get("/api/folders").json() == {"roots": [], "folders": [],
                                                      "default": None}

