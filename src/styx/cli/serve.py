"""``styx serve``: the studio, a web page to stylise, watch, compare and train.

Prints the URL (with a token on any host but loopback) and serves until Ctrl-C. The page,
the queue and the storage are :mod:`styx.studio`; this module only reads the options,
checks them and runs uvicorn. A studio folder another ``styx serve`` uses is refused
before the queue starts or uvicorn listens (the store's lock, taken by ``create_app``).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
from pathlib import Path
from typing import Annotated, Any

import typer

from styx.core.errors import StyxError


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    from styx.studio.guard import is_loopback as loopback

    return loopback(host)


def check_allowed_dirs(folders: list[Path]) -> list[Path]:
    checked = []
    for folder in folders:
        path = folder.expanduser()
        if not path.is_dir():
            raise StyxError(f"--allow-dir {folder} is not a folder",
                            "give a folder that holds training photos")
        checked.append(path.resolve())
    return checked


def check_studio_folder(folder: Path, given: bool) -> Path:
    """``folder``, made if need be; a file, or a folder that cannot be made, is a
    StyxError naming it as given (``--folder`` when ``given``)."""
    label = f"--folder {folder}" if given else f"the studio folder {folder}"
    path = folder.expanduser()
    if path.exists() and not path.is_dir():
        raise StyxError(f"{label} is a file, not a folder",
                        "give --folder a folder (it is made if missing)")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        file = next((parent for parent in path.parents if parent.is_file()), None)
        reason = f"{file} is a file" if file is not None else error.strerror or error
        raise StyxError(f"cannot make {label}: {reason}",
                        "give --folder a folder you can write to") from None
    return path


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            raise StyxError(f"cannot listen on {host}:{port}: {error.strerror or error}",
                            "choose another --port (or stop what uses it)") from None


def serve(
    host: Annotated[str, typer.Option(help="The address to listen on; any but loopback "
                                           "needs the token printed at start.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.", min=1,
                                      max=65535)] = 8000,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the page in the "
                                                              "browser.")] = False,
    allow_dir: Annotated[list[Path] | None, typer.Option(
        help="A folder whose subfolders the page may train on (repeatable); no other "
             "server folder is ever read.", metavar="FOLDER")] = None,
    studies: Annotated[list[Path] | None, typer.Option(
        help="A folder of experiment reports to offer (repeatable) [default: ./experiments "
             "and the --allow-dir folders].", metavar="FOLDER")] = None,
    folder: Annotated[Path | None, typer.Option(
        help="Where the studio keeps its database and pictures.", show_default=False,
        metavar="FOLDER")] = None,
    token: Annotated[str | None, typer.Option(
        help="The token to ask for [default: a new random one on a non-loopback host, "
             "none on loopback].", show_default=False, envvar="STYX_STUDIO_TOKEN")] = None,
    heavy_jobs: Annotated[int, typer.Option(help="Long jobs (gatys, training) run at once.",
                                            min=1)] = 1,
    max_upload_megapixels: Annotated[float, typer.Option(
        help="The largest picture the page may upload, in megapixels; a larger one is "
             "refused before it is decoded.", min=0.01, metavar="N")] = 40,
    max_clip_megabytes: Annotated[float, typer.Option(
        help="The largest clip the page may upload, in MiB; a larger one is refused as it "
             "arrives.", min=1, metavar="N")] = 200,
    max_clip_frames: Annotated[int, typer.Option(
        help="The most frames an uploaded clip may have (1800: a minute at 30 frames/s).",
        min=1, metavar="N")] = 1800,
) -> None:
    """Serve the studio: drop a photo and a painting on a page, watch, compare and train."""
    if token is not None and not token.strip():
        raise StyxError("--token is empty", "give a token, or leave it out")
    if token is None and not is_loopback(host):
        token = secrets.token_urlsafe(24)
    allowed = check_allowed_dirs(list(allow_dir or []))
    check_port_free(host, port)

    from styx.files.modelstore import styx_home

    home = check_studio_folder(folder if folder is not None else styx_home() / "studio",
                               given=folder is not None)

    import uvicorn

    from styx.studio.app import StudioSettings, create_app

    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{port}/"
    url = address + (f"?token={token}" if token else "")

    def ready() -> None:
        print(f"styx studio: {url}", flush=True)
        if token:
            print("  anyone with this URL can use the studio; keep the token to yourself",
                  flush=True)
        print(f"  keeping its files in {settings.folder}; Ctrl-C stops it", flush=True)
        if open_browser:
            import webbrowser

            webbrowser.open(url)

    settings = StudioSettings(folder=home,
                              allow_dirs=allowed,
                              study_dirs=list(studies) if studies else [Path("experiments")],
                              token=token, heavy_workers=heavy_jobs, host=host,
                              url=address,
                              max_upload_pixels=round(max_upload_megapixels * 1e6),
                              max_clip_bytes=round(max_clip_megabytes * 2**20),
                              max_clip_frames=max_clip_frames,
                              on_ready=ready)
    app = create_app(settings)  # takes the folder: refused if another server has it
    config = uvicorn.Config(app, host=host, port=port, log_level="warning",
                            timeout_graceful_shutdown=5)
    server = _server(config, app)
    # uvicorn raises the Ctrl-C again once it has shut down
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    print("styx studio stopped", flush=True)


def _server(config: Any, app: Any) -> Any:
    """uvicorn's server, ending the page's event streams as soon as it is asked to stop
    (else it would wait for them to close)."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            app.state.studio.events.close()
            super().handle_exit(sig, frame)

    return Server(config)
