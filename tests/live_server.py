"""A studio served by a real uvicorn on a free loopback port, in a background thread.

    with live_studio(StudioSettings(folder=tmp_path / "studio")) as (url, app):
        httpx.get(url + "api/jobs")

For what Starlette's in-process test client cannot do: an endless event stream, a browser.
Importable as ``import live_server`` (the root conftest's folder is on ``sys.path``).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

from ports import free_port


@contextlib.contextmanager
def live_studio(settings: Any, *, start_timeout: float = 30.0,
                port: int | None = None) -> Iterator[tuple[str, Any]]:
    """``(url, app)`` of a running studio; stopped (its jobs too) when the block ends.
    ``port``: that one (a studio started again where the last one was), else a free one."""
    import uvicorn

    from styx.studio.app import create_app

    app = create_app(settings)
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", timeout_graceful_shutdown=5))
    thread = threading.Thread(target=server.run, daemon=True, name="live-studio")
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the studio did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/", app
    finally:
        app.state.studio.events.close()
        server.should_exit = True
        thread.join(60)
