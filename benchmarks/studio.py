"""How fast the studio's page loads, and how fast a trained model answers in it.

Starts ``styx serve`` in a fresh process on a free port (its own folder and STYX_HOME, a
small texture-nets model trained first with random descriptor weights), then measures:

* ``first_load_ms``: the page's first load after the server is up: the HTML, its CSS and
  JavaScript, then the two API calls the page makes to draw itself (``/api/catalogue``,
  ``/api/jobs``), one after another (a browser overlaps them), each over a new connection.
  Target: under 200 ms.
* ``browser_ready_ms``: the same in headless Chromium (when it is installed), from the
  navigation's start to the page marking itself ready (its forms built from the catalogue).
* ``warm_load_ms``: the median of 20 more loads.
* ``model_job_s``: a stylise job of the trained model on the 512 x 384 sample photo, from
  the request to the finished picture, and ``preview_ms``: the page's low-resolution
  preview of the same model (160 px).
* ``huge_upload``: a 9999 x 9999 PNG of one colour (a few kilobytes) uploaded to the
  studio: ``refused_ms``, the answer under the default budget of 40 megapixels (read from
  the file's header, nothing decoded); ``accepted_s`` and ``accepted_peak_rss_mb``, what
  taking it costs a second server started with ``--max-upload-megapixels 120`` (the
  request's time, and its peak resident memory, ``VmHWM``, after the upload).

Prints one JSON document. Usage: ``python benchmarks/studio.py``.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, parse_args, parser

PAGE = ["", "static/studio.css", "static/studio.js", "api/catalogue", "api/jobs"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def load_page(url: str) -> float:
    """Milliseconds to fetch everything the page needs, one after another, each over a new
    connection (the standard library's client: httpx's own setup costs 17 ms a client)."""
    from http.client import HTTPConnection
    from urllib.parse import urlsplit

    address = urlsplit(url)
    started = time.perf_counter()
    for path in PAGE:
        connection = HTTPConnection(address.hostname, address.port, timeout=30)
        connection.request("GET", "/" + path)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 200:
            raise SystemExit(f"GET /{path}: {response.status}")
    return (time.perf_counter() - started) * 1000


def browser_ready(url: str) -> float | None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    try:
        from browser import find_chromium
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    chromium, _missing = find_chromium()
    if chromium is None:
        return None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium),
                                             args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']")
        ready = page.evaluate("performance.now()")
        browser.close()
    return float(ready)


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 60.0) -> float:
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if server.poll() is not None:
            raise SystemExit(f"styx serve exited: {server.stderr.read()}")
        try:
            httpx.get(url + "static/studio.css", timeout=1.0)
            return time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit("styx serve did not start")


def model_job(url: str) -> tuple[float, float]:
    import httpx

    with httpx.Client(base_url=url, timeout=60) as client:
        images = {i["name"]: i["id"] for i in client.get("api/catalogue").json()["images"]}
        content = images["tubingen.jpg"]
        client.post("api/preview", json={"model": "bench", "content": content,
                                         "size": 160}).raise_for_status()  # warm-up
        started = time.perf_counter()
        client.post("api/preview", json={"model": "bench", "content": content, "size": 160}
                    ).raise_for_status()
        preview = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        job = client.post("api/jobs", json={"kind": "stylize", "model": "bench",
                                            "content": content}).json()
        while job["state"] in ("queued", "running"):
            time.sleep(0.01)
            job = client.get(f"api/jobs/{job['id']}").json()
        seconds = time.perf_counter() - started
        if job["state"] != "done":
            raise SystemExit(f"the model job ended {job['state']}: {job['error']}")
        return seconds, preview


def huge_png() -> bytes:
    """A 9999 x 9999 PNG of one colour: a few kilobytes that decode to 100 megapixels."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (9999, 9999)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload_seconds(url: str, data: bytes) -> tuple[float, int]:
    """Seconds to upload ``data`` as ``huge.png``, and the answer's status."""
    import httpx

    with httpx.Client(base_url=url, timeout=300) as client:
        started = time.perf_counter()
        response = client.post("api/images", files={"file": ("huge.png", data, "image/png")})
        return time.perf_counter() - started, response.status_code


def peak_rss_mb(pid: int) -> float | None:
    """The peak resident memory of process ``pid`` (Linux's ``VmHWM``), in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return None if line is None else round(int(line.split()[1]) / 1024, 1)


def start_server(port: int, env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "styx", "serve", "--port", str(port),
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def main() -> None:
    args = parse_args(parser(__doc__))
    out = machine(args, benchmark="studio")
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "STYX_HOME": str(Path(scratch) / "home"), "STYX_OFFLINE": "1"}
        subprocess.run([sys.executable, "-c", (
            "import styx\n"
            "from styx.files.image_arrays import sample_image\n"
            "styx.train('texture-nets', style=sample_image('style'), name='bench', "
            "content_dir=sample_image('content').parent, iterations=4, image_size=64, batch_size=1, "
            "weights='random', "
            f"descriptor='vgg16', device={args.device!r}, quiet=True)\n")],
            env=env, check=True)
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        server = start_server(port, env)
        try:
            out["server_start_s"] = round(wait_until_up(url, server), 3)
            out["first_load_ms"] = round(load_page(url), 1)
            out["warm_load_ms"] = round(statistics.median(load_page(url) for _ in range(20)), 1)
            ready = browser_ready(url)
            out["browser_ready_ms"] = None if ready is None else round(ready, 1)
            seconds, preview = model_job(url)
            out["model_job_s"] = round(seconds, 3)
            out["preview_ms"] = round(preview, 1)
            data = huge_png()
            refused, status = upload_seconds(url, data)
            out["huge_upload"] = {"file_bytes": len(data), "refused_ms": round(refused * 1000, 1),
                                  "refused_status": status}
        finally:
            server.terminate()
            server.wait(30)
        # the cost the budget saves: the same file taken by a studio with a larger budget
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        server = start_server(port, env, "--max-upload-megapixels", "120",
                              "--folder", str(Path(scratch) / "studio-120"))
        try:
            wait_until_up(url, server)
            before = peak_rss_mb(server.pid)
            accepted, status = upload_seconds(url, data)
            out["huge_upload"].update(accepted_s=round(accepted, 2), accepted_status=status,
                                      rss_mb_before=before,
                                      accepted_peak_rss_mb=peak_rss_mb(server.pid))
        finally:
            server.terminate()
            server.wait(30)
    out["first_load_under_200_ms"] = out["first_load_ms"] < 200
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
