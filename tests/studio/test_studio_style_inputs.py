"""Style images in the studio follow what a trained model's generator declares
(:mod:`styx.core.inputs`): a model that takes a painting at run time (AdaIN's) is listed
with its style inputs and runs with gallery paintings; models that hold their styles
(texture-nets, StyleBank) still refuse them.

The models are untrained tiny ones (tests/trained_models.py) put into the store for this
module and removed after it; each run has a long side of 32 px.
"""

from __future__ import annotations

import secrets
import shutil

import numpy as np
import pytest
from test_studio_api import (
    job_count,
    one_line_error,
    picture,
    png,
    samples,
    start,
    wait_final,
)

SMALL = {"long_side": "32", "style_size": "32"}


@pytest.fixture(scope="module")
def models():
    """Store names of an AdaIN, a StyleBank and a texture-nets model (the same weights in
    every run: their layers' initial values are drawn from torch's seeded generator)."""
    import torch
    from trained_models import save_adain, save_stylebank, save_texture_nets

    from styx.files.modelstore import models_home

    suffix = secrets.token_hex(3)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        folders = {kind: save(models_home() / f"studio-{kind}-{suffix}") for kind, save in
                   (("adain", save_adain), ("stylebank", save_stylebank),
                    ("texture-nets", save_texture_nets))}
    yield {kind: folder.name for kind, folder in folders.items()}
    for folder in folders.values():
        shutil.rmtree(folder, ignore_errors=True)


def painting(client) -> str:
    """The id of an uploaded painting (a flat red), unlike the bundled one."""
    data = png((48, 40), (220, 30, 20))
    response = client.post("/api/images", files={"file": ("red.png", data)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def run(client, model: str, content: str, styles: list[str]) -> np.ndarray:
    job = wait_final(client, start(client, {"kind": "stylize", "model": model,
                                            "content": content, "styles": styles,
                                            "options": SMALL})["id"])
    assert job["state"] == "done", job["error"]
    assert job["request"]["styles"] == styles
    return np.asarray(picture(client.get(job["result"])).convert("RGB"), dtype=np.float64)


def test_the_catalogue_lists_the_style_inputs_each_model_declares(open_studio, models):
    import styx

    with open_studio() as client:
        listed = {m["name"]: m for m in client.get("/api/catalogue").json()["models"]}
    adain = listed[models["adain"]]
    declared = styx.load_model(models["adain"]).generator.style_inputs
    assert adain["error"] is None and declared
    assert adain["style_inputs"] == [{"name": i.name, "help": i.help}
                                     for i in declared]
    assert listed[models["stylebank"]]["style_inputs"] == []
    assert listed[models["texture-nets"]]["style_inputs"] == []


def test_an_adain_model_runs_with_gallery_paintings_and_follows_them(open_studio, models):
    with open_studio() as client:
        content, starry = samples(client)
        red = painting(client)
        with_starry = run(client, models["adain"], content, [starry])
        with_red = run(client, models["adain"], content, [red])
        assert with_starry.shape == with_red.shape and max(with_starry.shape[:2]) == 32
        # the same painting gives the same picture; another painting, another one
        assert np.array_equal(run(client, models["adain"], content, [starry]), with_starry)
        assert np.abs(with_starry - with_red).mean() > 3.0  # of 255
        both = run(client, models["adain"], content, [starry, red])  # blended
        assert not np.array_equal(both, with_starry) and not np.array_equal(both, with_red)


def test_an_adain_model_without_a_painting_is_refused(open_studio, models):
    with open_studio() as client:
        content, _ = samples(client)
        for styles in ([], None):
            body = {"kind": "stylize", "model": models["adain"], "content": content,
                    "styles": styles, "options": SMALL}
            message = one_line_error(client.post("/api/jobs", json=body))
            assert "takes a style image" in message and "none was given" in message
        assert job_count(client) == 0


@pytest.mark.parametrize(("kind", "options"), [("stylebank", {"style_mix": "1:1"}),
                                               ("texture-nets", {})])
def test_a_model_that_holds_its_styles_refuses_a_painting(open_studio, models, kind,
                                                           options):
    with open_studio() as client:
        content, starry = samples(client)
        body = {"kind": "stylize", "model": models[kind], "content": content,
                "styles": [starry], "options": {"long_side": "32", **options}}
        message = one_line_error(client.post("/api/jobs", json=body))
        assert models[kind] in message and "takes no style images" in message
        assert job_count(client) == 0
        del body["styles"]
        job = wait_final(client, start(client, body)["id"])
        assert job["state"] == "done", job["error"]
