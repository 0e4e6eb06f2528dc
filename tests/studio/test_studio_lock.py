"""One server per studio folder: a second studio on a folder in use is refused before it
touches anything (else it would mark the first one's running jobs interrupted), and the
folder is free again once the first one stops."""

from __future__ import annotations

import os
import time

import pytest
import tiny
from starlette.testclient import TestClient

from styx.core.errors import StyxError
from styx.studio.app import StudioSettings, create_app
from styx.studio.store import Store


def test_a_second_studio_on_a_folder_in_use_is_refused_and_changes_nothing(tmp_path):
    folder = tmp_path / "studio"
    first = create_app(StudioSettings(folder=folder, url="http://127.0.0.1:8765/"))
    with TestClient(first, base_url="http://localhost") as client:
        images = {i["name"]: i["id"] for i in client.get("/api/catalogue").json()["images"]}
        job = client.post("/api/jobs", json={
            "kind": "stylize", "method": "gatys", "content": images["tubingen.jpg"],
            "styles": [images["starry_night.jpg"]],
            "options": {"size": "32", "steps": "100000", **tiny.FAST_DESCRIPTOR}}).json()
        with pytest.raises(StyxError) as refused:
            create_app(StudioSettings(folder=folder, url="http://127.0.0.1:9000/"))
        assert refused.value.message == (
            f"the studio folder {folder} is in use by another styx serve "
            f"(pid {os.getpid()}, http://127.0.0.1:8765/)")
        assert refused.value.hint == "stop that one, or give --folder another folder"
        time.sleep(0.2)
        assert client.get(f"/api/jobs/{job['id']}").json()["state"] in ("queued", "running")
        client.post(f"/api/jobs/{job['id']}/stop")
        deadline = time.monotonic() + 60
        while client.get(f"/api/jobs/{job['id']}").json()["state"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # stopped: the folder is free, for the next server as for the one after it
    for _ in range(2):
        with TestClient(create_app(StudioSettings(folder=folder)),
                        base_url="http://localhost") as client:
            assert client.get(f"/api/jobs/{job['id']}").json()["state"] in (
                "stopped", "cancelled")


def test_the_lock_holds_the_owner_and_is_let_go_on_close(tmp_path):
    store = Store(tmp_path, owner="http://[::1]:8000/")
    held = (tmp_path / "studio.lock").read_text()
    assert f'"pid": {os.getpid()}' in held and "http://[::1]:8000/" in held
    with pytest.raises(StyxError, match=r"in use by another styx serve \(pid \d+, http"):
        Store(tmp_path)
    store.close()
    store.close()  # again: nothing
    Store(tmp_path).close()


def test_a_folder_that_cannot_be_opened_lets_go_of_the_lock(tmp_path):
    (tmp_path / "images").write_text("a file where a folder should be")
    with pytest.raises(OSError):
        Store(tmp_path)
    (tmp_path / "images").unlink()
    Store(tmp_path).close()
