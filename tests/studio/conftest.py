"""Fixtures of the studio's tests: a studio of its own per test (its folder under
``tmp_path``), small photos for training, one trained model shared by a module's tests.

Every run uses random descriptor weights and tiny sizes: no network, a few seconds each.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tiny
from PIL import Image

#: Options that keep every run offline and fast.
FAST = tiny.FAST_DESCRIPTOR


def small_photo(path: Path, seed: int, size: tuple[int, int] = (40, 32)) -> Path:
    """A small smooth picture (different per seed), written as ``path``."""
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((4, 4, 3)) * 255).astype("uint8"))
    base.resize(size, Image.BICUBIC).save(path)
    return path


@pytest.fixture
def open_studio(tmp_path):
    """``with open_studio(allow_dirs=[...], token=...) as client:`` a TestClient of a studio
    whose folder is ``tmp_path/studio`` (``folder=`` another name under ``tmp_path``, so
    that a second app can open the same one). The ``with`` runs the lifespan: the workers
    start, and stop at its end. No study folders unless given."""
    from starlette.testclient import TestClient

    from styx.studio.app import StudioSettings, create_app

    @contextlib.contextmanager
    def open_(*, folder: str = "studio", raise_server_exceptions: bool = True,
              **settings) -> Iterator[TestClient]:
        settings.setdefault("study_dirs", [])
        app = create_app(StudioSettings(folder=tmp_path / folder, **settings))
        with TestClient(app, base_url="http://localhost",
                        raise_server_exceptions=raise_server_exceptions) as client:
            client.app_state = app.state  # type: ignore[attr-defined]
            yield client

    return open_


@pytest.fixture(name="small_photo")
def small_photo_fixture():
    """``small_photo(path, seed, size=(40, 32))``: write a small picture."""
    return small_photo


@pytest.fixture
def photos(tmp_path) -> Path:
    """An allowed root ``tmp_path/photos`` holding two small PNGs."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(2):
        small_photo(folder / f"p{seed}.png", seed)
    return folder


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> str:
    """The name of a texture-nets model in the store, trained with the library (about a
    second at this size); a new name per module, so that no other test's model clashes."""
    import styx
    from styx.files.image_arrays import sample_image

    folder = tmp_path_factory.mktemp("model-photos")
    for seed in range(2):
        small_photo(folder / f"p{seed}.png", seed)
    name = f"studio-api-{secrets.token_hex(3)}"
    styx.train("texture-nets", style=str(sample_image("style")), content_dir=str(folder),
               name=name, **{**tiny.TRAINING, **FAST})
    return name


@pytest.fixture(scope="module")
def clip_model() -> str:
    """The name of a tiny texture-nets model in the store (made, not trained: instant), for
    clip jobs; a new name per module."""
    from trained_models import save_texture_nets

    from styx.files.modelstore import models_home

    name = f"studio-clip-{secrets.token_hex(3)}"
    save_texture_nets(models_home() / name)
    return name
