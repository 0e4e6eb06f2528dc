"""``styx serve`` as a user runs it: a real process, its printed URL, the token off
loopback, Ctrl-C with a job running (stopped, kept as interrupted, shown so after a
restart), and one server per studio folder (a second refused, a third started once the
first is killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from ports import free_port

pytestmark = pytest.mark.slow


def start_server(tmp_path, *args: str) -> tuple[subprocess.Popen, str]:
    """``styx serve`` in a fresh process; returns it and the URL it printed."""
    env = {**os.environ, "STYX_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    server = subprocess.Popen([sys.executable, "-m", "styx", "serve", *args], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = server.stdout.readline()
    if not line.startswith("styx studio: "):
        server.kill()
        raise AssertionError(f"no URL printed: {line!r} {server.stderr.read()}")
    return server, line.split(": ", 1)[1].strip()


def stop_server(server: subprocess.Popen) -> tuple[int, str]:
    server.send_signal(signal.SIGINT)
    try:
        code = server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        raise
    return code, server.stderr.read()


def test_ctrl_c_stops_a_running_job_and_a_restart_shows_it_interrupted(tmp_path):
    port = free_port()
    server, url = start_server(tmp_path, "--port", str(port))
    assert url == f"http://127.0.0.1:{port}/"  # loopback: no token
    with httpx.Client(base_url=url, timeout=30) as client:
        images = {i["name"]: i["id"] for i in client.get("api/catalogue").json()["images"]}
        job = client.post("api/jobs", json={
            "kind": "stylize", "method": "gatys", "content": images["tubingen.jpg"],
            "styles": [images["starry_night.jpg"]],
            "options": {"size": "48", "steps": "100000", "weights": "random",
                        "descriptor": "vgg16"}}).json()
        deadline = time.monotonic() + 60
        while (client.get(f"api/jobs/{job['id']}").json().get("progress") or {}).get(
                "step", 0) < 3:
            assert time.monotonic() < deadline, "the job did not start"
            time.sleep(0.2)
    code, stderr = stop_server(server)
    assert code == 0, stderr  # Ctrl-C is how a server is stopped: not an error
    assert "Traceback" not in stderr
    assert server.stdout.read().splitlines()[-1] == "styx studio stopped"

    server, url = start_server(tmp_path, "--port", str(port))
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            again = client.get(f"api/jobs/{job['id']}").json()
            assert again["state"] == "interrupted"
            assert again["result"]  # the best picture so far was kept
            assert client.get(again["result"]).headers["content-type"] == "image/png"
            assert 0 < again["summary"]["steps"] < 100000
    finally:
        stop_server(server)


def test_any_host_but_loopback_needs_the_printed_token(tmp_path):
    port = free_port()
    server, url = start_server(tmp_path, "--host", "0.0.0.0", "--port", str(port))
    try:
        assert "?token=" in url
        token = url.split("?token=", 1)[1]
        local = f"http://127.0.0.1:{port}/"
        assert httpx.get(local + "api/jobs").status_code == 401
        assert httpx.get(local + "api/jobs", params={"token": "wrong"}).status_code == 401
        assert httpx.get(local + "api/jobs", params={"token": token}).status_code == 200
        assert httpx.get(local + "api/jobs",
                         headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        stop_server(server)


def test_a_second_server_on_the_same_folder_is_refused_until_the_first_dies(tmp_path):
    folder = tmp_path / "shared-studio"
    first_port, second_port = free_port(), free_port()
    first, url = start_server(tmp_path, "--port", str(first_port), "--folder", str(folder),
                              "--max-upload-megapixels", "0.05")
    try:
        env = {**os.environ, "STYX_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
        second = subprocess.run(
            [sys.executable, "-m", "styx", "serve", "--port", str(second_port),
             "--folder", str(folder)],
            env=env, capture_output=True, text=True, timeout=60, check=False)
        assert second.returncode == 2, second.stderr
        lines = [line for line in second.stderr.splitlines() if line.strip()]
        assert lines == [
            (f"error: the studio folder {folder} is in use by another styx serve "
             f"(pid {first.pid}, {url})"),
            "hint: stop that one, or give --folder another folder"]
        assert second.stdout == ""
        with httpx.Client(base_url=url, timeout=30) as client:  # the first one goes on
            assert client.get("api/jobs").status_code == 200
            # and its options are the ones it was given
            assert client.get("api/catalogue").json()["max_upload_megapixels"] == 0.05
    finally:
        first.kill()  # kill -9: no clean-up of its own; the system lets go of the lock
        first.wait(60)
    third, url = start_server(tmp_path, "--port", str(second_port), "--folder", str(folder))
    try:
        assert httpx.get(url + "api/jobs", timeout=30).status_code == 200
    finally:
        assert stop_server(third)[0] == 0
