"""The studio's web application: the page, its JSON API and its event stream (Starlette).

    GET  /                         the page (static HTML, CSS and JavaScript)
    GET  /api/catalogue            methods with their options, stored models, images
    POST /api/images               upload an image (multipart field ``file``)
    GET  /api/images/ID            an image, as PNG; DELETE removes an upload
    POST /api/clips                upload a clip (multipart field ``file``): mp4, mov, m4v,
                                   mkv, webm or avi, within the size and length limits
    GET  /api/clips/ID/poster.png  a clip's first frame, upright; DELETE /api/clips/ID
    GET  /api/folders              content folders under the --allow-dir roots
    GET  /api/studies              experiment reports; /studies/ID/FILE serves their files
    GET  /api/jobs                 the history, newest first (?live=1: queued and running)
    POST /api/jobs                 start a job: {"kind": "stylize"|"train", ...}; a stylize
                                   job of a clip: {"model": M, "clip": ID, "video": {...}}
    GET  /api/jobs/ID              one job; DELETE removes a finished one
    POST /api/jobs/ID/stop         stop it (a queued one is cancelled)
    POST /api/jobs/ID/resume       continue a stopped or interrupted training run
    GET  /api/jobs/ID/result.png   the picture (?download=1: as a download); a clip job's
                                   is its first stylised frame
    GET  /api/jobs/ID/result.mp4   a clip job's video (H.264; ?download=1: as a download)
    GET  /api/jobs/ID/settings.json  every setting the run used
    GET  /api/jobs/ID/frame.png    the latest live frame; /sample.png a training sample
    POST /api/preview              a trained model's low-resolution picture, at once
    GET  /api/events               server-sent events: job states and progress
    GET  /favicon.ico              the icon (an SVG)

Errors are ``{"error": "one line"}`` with a 4xx status, an unknown address or method's too.
Who may ask is :mod:`styx.studio.guard`'s to decide. See ``docs/studio.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from styx.core.errors import StyxError
from styx.studio.forms import (
    FormError,
    catalogue,
    describe_methods,
    form_fields,
    form_options,
    page_error,
    style_kind,
    worded_for,
)
from styx.studio.guard import RequestGuard
from styx.studio.jobs import Events, Runner, lane_of, png_bytes
from styx.studio.places import Places, default_folder
from styx.studio.store import INTERRUPTED, STOPPED, Store
from styx.studio.uploads import (
    DEFAULT_MAX_CLIP_BYTES,
    DEFAULT_MAX_CLIP_FRAMES,
    DEFAULT_MAX_CLIP_PIXELS,
    DEFAULT_MAX_UPLOAD_PIXELS,
    MAX_UPLOAD_BYTES,
    add_samples,
    store_clip,
    store_image,
    too_large,
)

#: Seconds between keep-alive comments on an idle event stream.
KEEP_ALIVE = 15.0
#: What a multipart upload may carry beyond its file (boundaries, headers).
MULTIPART_SLACK = 1_000_000


@dataclass
class StudioSettings:
    """How a studio runs: where it keeps its files, what it may read, who may use it."""

    folder: Path
    allow_dirs: list[Path] = field(default_factory=list)
    study_dirs: list[Path] = field(default_factory=lambda: [Path("experiments")])
    #: None: no token asked (a loopback server). Else every request must carry it.
    token: str | None = None
    heavy_workers: int = 1
    #: The address the server listens on: a studio without a token answers to it (and to
    #: loopback names), to no other Host.
    host: str = "127.0.0.1"
    #: Where it is served (no token in it), written in the folder's lock so that a second
    #: server on the same folder can say which one holds it.
    url: str | None = None
    #: The most pixels an uploaded image may have, checked before it is decoded.
    max_upload_pixels: int = DEFAULT_MAX_UPLOAD_PIXELS
    #: The largest clip the page may upload, in bytes (refused as it arrives).
    max_clip_bytes: int = DEFAULT_MAX_CLIP_BYTES
    #: The most frames an uploaded clip may have.
    max_clip_frames: int = DEFAULT_MAX_CLIP_FRAMES
    #: The most pixels a frame of an uploaded clip may have, checked before it is decoded.
    max_clip_pixels: int = DEFAULT_MAX_CLIP_PIXELS
    #: Called once the studio is ready to answer (``styx serve`` prints its URL then).
    on_ready: Callable[[], None] | None = None


class Studio:
    """Everything a running studio holds: the store, the queue, the events, the places."""

    def __init__(self, settings: StudioSettings) -> None:
        self.settings = settings
        self.store = Store(settings.folder, owner=settings.url)  # refused if in use
        self.events = Events()
        self.runner = Runner(self.store, self.events, heavy_workers=settings.heavy_workers)
        self.places = Places(settings.allow_dirs, settings.study_dirs)
        self.started = False
        self.methods: list[dict[str, Any]] | None = None

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        interrupted = self.store.mark_interrupted()
        if interrupted:
            print(f"note: {interrupted} job(s) of the last session were left unfinished; "
                  "they are marked interrupted")
        self.store.clear_work()  # no job is live yet: what is there was left half made
        add_samples(self.store)
        # Plugins do not change while the server runs: their forms are described once.
        self.methods = describe_methods()
        self.runner.start()

    def stop(self, timeout: float = 20.0) -> None:
        if self.started:
            self.runner.shutdown(timeout)
            self.started = False
        self.store.close()


def error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def not_found(what: str) -> JSONResponse:
    return error(f"no such {what}", 404)


# -- the application -----------------------------------------------------------------------
def create_app(settings: StudioSettings) -> Starlette:
    """The studio's ASGI application; its lifespan starts and stops the job queue."""
    studio = Studio(settings)
    api = Api(studio)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(studio.start)
        if settings.on_ready is not None:
            settings.on_ready()
        try:
            yield
        finally:
            await run_in_threadpool(studio.stop)

    static = Path(str(resources.files("styx.studio").joinpath("static")))
    routes = [
        Route("/", api.page),
        Route("/api/catalogue", api.get_catalogue),
        Route("/api/images", api.upload, methods=["POST"]),
        Route("/api/images/{image_id}", api.image),
        Route("/api/images/{image_id}", api.delete_image, methods=["DELETE"]),
        Route("/api/clips", api.upload_clip, methods=["POST"]),
        Route("/api/clips/{clip_id}/poster.png", api.clip_poster),
        Route("/api/clips/{clip_id}", api.delete_clip, methods=["DELETE"]),
        Route("/api/folders", api.folders),
        Route("/api/studies", api.studies),
        Route("/studies/{study_id}/{name:path}", api.study_file),
        Route("/api/jobs", api.list_jobs),
        Route("/api/jobs", api.start_job, methods=["POST"]),
        Route("/api/jobs/{job_id}", api.get_job),
        Route("/api/jobs/{job_id}", api.delete_job, methods=["DELETE"]),
        Route("/api/jobs/{job_id}/stop", api.stop_job, methods=["POST"]),
        Route("/api/jobs/{job_id}/resume", api.resume_job, methods=["POST"]),
        Route("/api/jobs/{job_id}/result.png", api.result),
        Route("/api/jobs/{job_id}/result.mp4", api.video_result),
        Route("/api/jobs/{job_id}/settings.json", api.settings_file),
        Route("/api/jobs/{job_id}/frame.png", api.frame),
        Route("/api/jobs/{job_id}/sample.png", api.sample),
        Route("/api/preview", api.preview, methods=["POST"]),
        Route("/api/events", api.event_stream),
        Route("/favicon.ico", api.favicon),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error})
    app.state.studio = studio
    app.add_middleware(RequestGuard, token=settings.token, host=settings.host)
    return app


async def _http_error(request: Request, problem: Exception) -> Response:
    """Starlette's own errors (no such address, a method a route does not take) as the
    API's ``{"error": ...}``."""
    assert isinstance(problem, HTTPException)
    status = problem.status_code
    if status in (204, 304):
        return Response(status_code=status, headers=problem.headers)
    path = request.url.path[:200]
    message = {404: f"no such address: {path}",
               405: f"{request.method} is not allowed on {path}"}.get(status, problem.detail)
    return JSONResponse({"error": message}, status_code=status, headers=problem.headers)


async def _json_body(request: Request) -> dict[str, Any]:
    # A page of another site can send text/plain without asking; application/json it
    # cannot (the browser asks first, and the studio answers no such question).
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise StyxError("the request is not sent as JSON",
                        "send it with Content-Type: application/json")
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise StyxError("the request is not JSON", "send a JSON object") from None
    if not isinstance(body, dict):
        raise StyxError("the request must be a JSON object", "send {\"kind\": ...}")
    return body


class _BodyTooLarge(Exception):
    """A request body past its limit (see :func:`_bounded_form`)."""


async def _bounded_form(request: Request, limit: int) -> Any:
    """The multipart form of ``request``, one file and a few fields, read while its body
    stays within ``limit`` bytes: past that, :class:`_BodyTooLarge` as soon as the bytes
    come, whatever its Content-Length said (or did not: a chunked body). Else the parser
    would spool any amount to disk first."""
    received = 0

    async def receive() -> Any:
        nonlocal received
        message = await request.receive()
        if message.get("type") == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _BodyTooLarge
        return message

    counted = Request(request.scope, receive)
    try:
        return await counted.form(max_files=1, max_fields=5, max_part_size=MAX_UPLOAD_BYTES)
    except _BodyTooLarge:
        raise
    except Exception as problem:  # noqa: BLE001 - the multipart parser's own errors
        raise StyxError(f"a bad upload: {problem}", "send one file as the field 'file'") \
            from None


def _upload_of(form: Any) -> Any:
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise StyxError("no file in the upload", "send one file as the field 'file'")
    return upload


def _styx_errors(handler: Any) -> Any:
    """A handler whose StyxError becomes ``{"error": ...}`` with status 400."""
    @functools.wraps(handler)
    async def wrapped(self: Api, request: Request) -> Response:
        try:
            return await handler(self, request)
        except StyxError as problem:
            return error(str(problem))
    return wrapped


def _job_errors(handler: Any) -> Any:
    """A handler of job requests: its StyxError becomes ``{"error": ..., "field": ...}``
    with status 400, worded for the page (:func:`~styx.studio.forms.page_error`; the
    handler words errors about its form's options with :func:`worded_for`), ``field``
    naming the option at fault when one is."""
    @functools.wraps(handler)
    async def wrapped(self: Api, request: Request) -> Response:
        try:
            return await handler(self, request)
        except StyxError as problem:
            return JSONResponse(page_error(problem).to_json(), status_code=400)
    return wrapped


class Api:
    """The routes (see the module docstring)."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.store = studio.store
        self.runner = studio.runner
        static = Path(str(resources.files("styx.studio").joinpath("static")))
        self._page = (static / "index.html").read_bytes()
        self._icon = static / "favicon.svg"

    async def page(self, request: Request) -> Response:
        return Response(self._page, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    async def favicon(self, request: Request) -> Response:
        return FileResponse(self._icon, media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=2592000"})

    async def get_catalogue(self, request: Request) -> Response:
        described = await run_in_threadpool(catalogue, self.studio.methods,
                                             self.runner.style_inputs)
        described["images"] = [i.to_json() for i in self.store.images()]
        described["can_train_from_folders"] = bool(self.studio.places.roots)
        described["max_upload_megapixels"] = self.studio.settings.max_upload_pixels / 1e6
        described["clips"] = [c.to_json() for c in self.store.clips()]
        described["clip_limits"] = self._clip_limits()
        return JSONResponse(described)

    def _clip_limits(self) -> dict[str, Any]:
        from styx.video.clips import VIDEO_SUFFIXES

        settings = self.studio.settings
        return {"mib": round(settings.max_clip_bytes / 2**20, 1),
                "frames": settings.max_clip_frames,
                "megapixels": round(settings.max_clip_pixels / 1e6, 2),
                "suffixes": list(VIDEO_SUFFIXES)}

    # -- images ----------------------------------------------------------------------------
    @_styx_errors
    async def upload(self, request: Request) -> Response:
        length = _content_length(request)
        if length > MAX_UPLOAD_BYTES + MULTIPART_SLACK:
            raise StyxError(f"the upload is {length / 2**20:.0f} MiB, more than the limit of "
                            f"{MAX_UPLOAD_BYTES // 2**20} MiB", "shrink it first")
        try:
            form = await _bounded_form(request, MAX_UPLOAD_BYTES + MULTIPART_SLACK)
        except _BodyTooLarge:
            raise StyxError(f"the upload is more than the limit of "
                            f"{MAX_UPLOAD_BYTES // 2**20} MiB", "shrink it first") from None
        upload = _upload_of(form)
        data = await upload.read()
        record = await run_in_threadpool(
            functools.partial(store_image, self.store, data, upload.filename,
                              max_pixels=self.studio.settings.max_upload_pixels))
        return JSONResponse(record.to_json(), status_code=201)

    # -- clips -----------------------------------------------------------------------------
    @_styx_errors
    async def upload_clip(self, request: Request) -> Response:
        """Take a clip: refused past the size limit as it arrives, then checked (see
        :func:`~styx.studio.uploads.store_clip`)."""
        settings = self.studio.settings
        length = _content_length(request)
        if length > settings.max_clip_bytes + MULTIPART_SLACK:
            raise too_large("the clip", length, settings.max_clip_bytes)
        try:
            form = await _bounded_form(request, settings.max_clip_bytes + MULTIPART_SLACK)
        except _BodyTooLarge:
            raise too_large("the clip", None, settings.max_clip_bytes) from None
        upload = _upload_of(form)
        try:
            record = await run_in_threadpool(
                functools.partial(store_clip, self.store, upload.file, upload.filename,
                                  max_bytes=settings.max_clip_bytes,
                                  max_frames=settings.max_clip_frames,
                                  max_pixels=settings.max_clip_pixels))
        finally:
            await upload.close()
        return JSONResponse(record.to_json(), status_code=201)

    async def clip_poster(self, request: Request) -> Response:
        record = self.store.clip(request.path_params["clip_id"])
        if record is None or not self.store.clip_poster_path(record.id).is_file():
            return not_found("clip")
        return FileResponse(self.store.clip_poster_path(record.id), media_type="image/png",
                            headers={"Cache-Control": "max-age=86400, immutable"})

    async def delete_clip(self, request: Request) -> Response:
        """Forget an uploaded clip; the jobs that used it keep their videos. A clip a
        queued or running job stylises stays."""
        record = self.store.clip(request.path_params["clip_id"])
        if record is None:
            return not_found("clip")
        if self.store.clip_in_use(record.id):
            return error("a queued or running job uses this clip: stop it first", 409)
        self.store.delete_clip(record.id)
        return JSONResponse({"deleted": record.id})

    async def image(self, request: Request) -> Response:
        record = self.store.image(request.path_params["image_id"])
        if record is None:
            return not_found("image")
        return FileResponse(self.store.image_path(record.id), media_type="image/png",
                            headers={"Cache-Control": "max-age=86400, immutable"})

    async def delete_image(self, request: Request) -> Response:
        """Forget an upload (its PNG and its row); the jobs that used it keep their pictures.
        A bundled sample stays, and so does an image a queued or running job will read."""
        record = self.store.image(request.path_params["image_id"])
        if record is None:
            return not_found("image")
        if record.source == "sample":
            return error("a bundled sample cannot be deleted, only uploads", 409)
        if self.store.image_in_use(record.id):
            return error("a queued or running job uses this image: stop it first", 409)
        self.store.delete_image(record.id)
        return JSONResponse({"deleted": record.id})

    # -- places ----------------------------------------------------------------------------
    async def folders(self, request: Request) -> Response:
        found = await run_in_threadpool(self.studio.places.folders)
        best = default_folder(found)
        return JSONResponse({"roots": [str(r) for r in self.studio.places.roots],
                             "folders": [f.to_json() for f in found],
                             "default": None if best is None else best.id})

    async def studies(self, request: Request) -> Response:
        return JSONResponse({"studies": await run_in_threadpool(self.studio.places.studies)})

    async def study_file(self, request: Request) -> Response:
        path = await run_in_threadpool(self.studio.places.study_file,
                                       request.path_params["study_id"],
                                       request.path_params["name"])
        if path is None:
            return not_found("study file")
        return FileResponse(path)

    # -- jobs ------------------------------------------------------------------------------
    async def list_jobs(self, request: Request) -> Response:
        live_only = request.query_params.get("live") in ("1", "true")
        jobs = [self.runner.describe(job.id) for job in self.store.jobs()
                if not live_only or job.live]
        return JSONResponse({"jobs": jobs})

    async def get_job(self, request: Request) -> Response:
        described = self.runner.describe(request.path_params["job_id"])
        return JSONResponse(described) if described is not None else not_found("job")

    @_job_errors
    async def start_job(self, request: Request) -> Response:
        body = await _json_body(request)
        kind = body.get("kind", "stylize")
        if kind == "stylize":
            job_id = await run_in_threadpool(self._new_stylize_job, body)
        elif kind == "train":
            job_id = await run_in_threadpool(self._new_train_job, body)
        else:
            raise StyxError(f"no job kind {kind!r}", "give 'stylize' or 'train'")
        return JSONResponse(self.runner.describe(job_id), status_code=201)

    def _parent(self, body: dict[str, Any]) -> str | None:
        """The job this one re-runs, when the page says so and it exists."""
        parent = self.store.job(body.get("parent"))  # type: ignore[arg-type]
        return None if parent is None else parent.id

    def _image_id(self, value: Any, what: str) -> str:
        if self.store.image(value) is None:
            raise StyxError(f"no {what} image {value!r}", "upload it first")
        return str(value)

    def _clip_id(self, value: Any) -> str:
        if self.store.clip(value) is None:
            raise StyxError(f"no clip {value!r}", "upload it first")
        return str(value)

    def _new_stylize_job(self, body: dict[str, Any]) -> str:
        import styx
        from styx.core.method import method_spec, run_config_class
        from styx.studio.jobs import HEAVY

        model_name, model = body.get("model") or None, None
        if model_name is not None:
            if not isinstance(model_name, str):
                raise StyxError("model must be a model's name", "see /api/catalogue for the models")
            model = self.runner.model(_stored_model_name(model_name))
            method = model.method
        else:
            method = body.get("method")
            if not isinstance(method, str):
                raise StyxError("give a method or a model", "e.g. {\"method\": \"gatys\"}")
        spec = method_spec(method)
        content = self._image_id(body["content"], "content") if body.get("content") else None
        clip = self._clip_id(body["clip"]) if body.get("clip") else None
        if clip is not None and content is not None:
            raise FormError("pick a photo or a clip, not both")
        if clip is not None and model is None:
            raise FormError(f"a clip is stylised by a trained model, not by {spec.name}: "
                            "choose one under Trained models")
        video = _video_options(body.get("video")) if clip is not None else None
        styles = [self._image_id(i, "style") for i in body.get("styles") or []]
        fields = form_fields(run_config_class(spec))
        with worded_for(fields):
            options = form_options(fields, body.get("options"))
            # every value and the images checked now, not in the queue
            config = styx.method_config(spec.name, **options)
            if spec.feed_forward and model is None:
                raise StyxError(f"method {spec.name!r} runs a trained model", "choose a model")
            _check_styles(spec, model, styles)
            _check_content(config, content or clip, styles)
        request = {"content": content, "styles": styles, "model": model_name,
                   "options": options, "form": body.get("options") or {}}
        if clip is not None:
            request.update(clip=clip, video=video)
        job = self.store.add_job("stylize", spec.name, request, parent=self._parent(body))
        # a clip takes minutes: never in the lane of the one-second runs
        self.runner.submit(job, HEAVY if clip is not None else lane_of(spec, "stylize"))
        return job.id

    def _new_train_job(self, body: dict[str, Any]) -> str:
        from styx.core.method import method_spec, train_config_class

        spec = method_spec(str(body.get("method")))
        config_class = train_config_class(spec)
        fields = form_fields(config_class, training=True)
        with worded_for(fields):
            return self._checked_train_job(spec, config_class, fields, body)

    def _checked_train_job(self, spec: Any, config_class: Any, fields: list[dict[str, Any]],
                           body: dict[str, Any]) -> str:
        """The training job of ``body``, every value checked before it is queued."""
        import styx
        from styx.files.modelstore import name_from_file
        from styx.training.feedforward import plan_training

        options = form_options(fields, body.get("options"))
        styles = [self._image_id(i, "style") for i in body.get("styles") or []]
        train_options: dict[str, Any] = dict(options)
        kind = style_kind(config_class)
        if styles and kind is None:
            raise StyxError(f"{spec.name} training takes no style image", "leave the styles out")
        if kind == "path" and len(styles) > 1:
            raise StyxError(f"{spec.name} trains one style per model", "choose one style")
        paths = [str(p) for p in self.store.stage_styles(styles)]
        if kind == "path" and paths:
            train_options["style"] = paths[0]
        elif kind == "paths":
            train_options["style"] = paths
        folder_id = body.get("content_folder")
        if folder_id:
            folder = self.studio.places.folder(folder_id)
            if folder is None:
                raise StyxError("that content folder is not one the studio may read",
                                "pick a folder the page lists: the studio reads only folders "
                                "under its --allow-dir roots")
            train_options["content_dir"] = str(folder.path)
        if not train_options.get("name") and styles:
            record = self.store.image(styles[0])
            train_options["name"] = name_from_file(record.name if record else "model")
        config = styx.method_config(spec.name, train=True, **train_options)
        plan_training(config)  # a taken model name fails now
        request = {"styles": styles, "content_folder": folder_id, "options": options,
                   "train_options": train_options, "form": body.get("options") or {}}
        job = self.store.add_job("train", spec.name, request, parent=self._parent(body))
        self.runner.submit(job, lane_of(spec, "train"))
        return job.id

    async def stop_job(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        if self.store.job(job_id) is None:
            return not_found("job")
        if not self.runner.stop(job_id):
            return error("the job is not running or queued", 409)
        return JSONResponse(self.runner.describe(job_id))

    @_styx_errors
    async def resume_job(self, request: Request) -> Response:
        from styx.core.method import method_spec

        job = self.store.job(request.path_params["job_id"])
        if job is None:
            return not_found("job")
        if job.kind != "train" or job.state not in (STOPPED, INTERRUPTED):
            return error("only a stopped or interrupted training run can be resumed", 409)
        # A run stopped before its first checkpoint (queued when the server stopped)
        # starts afresh: there is nothing to resume.
        job.request["train_options"]["resume"] = \
            await run_in_threadpool(_has_checkpoint, job.method, job.request["train_options"])
        self.store.update_job(job.id, request=job.request)
        self.runner.requeue(job, lane_of(method_spec(job.method), "train"))
        return JSONResponse(self.runner.describe(job.id))

    async def delete_job(self, request: Request) -> Response:
        job = self.store.job(request.path_params["job_id"])
        if job is None:
            return not_found("job")
        if job.live:
            return error("stop the job first", 409)
        self.store.delete_job(job.id)
        self.runner.events.publish({"type": "deleted", "id": job.id})
        return JSONResponse({"deleted": job.id})

    async def result(self, request: Request) -> Response:
        return self._job_file(request, self.store.result_path, "result", "image/png")

    async def video_result(self, request: Request) -> Response:
        """A clip job's video, with ranges (a player seeks with them)."""
        return self._job_file(request, self.store.video_path, "video", "video/mp4")

    def _job_file(self, request: Request, path_of: Callable[[str], Path], what: str,
                  media_type: str) -> Response:
        """A job's file (``path_of(job id)``), never cached; ``?download=1``: as a
        download named ``styx-METHOD-ID.SUFFIX``."""
        job = self.store.job(request.path_params["job_id"])
        if job is None or not path_of(job.id).is_file():
            return not_found(what)
        path = path_of(job.id)
        headers = {"Cache-Control": "no-cache"}
        if request.query_params.get("download"):
            headers["Content-Disposition"] = \
                f'attachment; filename="styx-{job.method}-{job.id}{path.suffix}"'
        return FileResponse(path, media_type=media_type, headers=headers)

    async def settings_file(self, request: Request) -> Response:
        described = self.runner.describe(request.path_params["job_id"])
        if described is None:
            return not_found("job")
        document = {key: described[key] for key in
                    ("id", "kind", "method", "state", "request", "settings", "summary",
                     "error", "created", "finished")}
        import styx

        document["styx_version"] = styx.__version__
        body = json.dumps(document, indent=2, sort_keys=True)
        return Response(body, media_type="application/json", headers={
            "Content-Disposition":
                f'attachment; filename="styx-{described["method"]}-{described["id"]}.json"'})

    async def frame(self, request: Request) -> Response:
        live = self.runner.live.get(request.path_params["job_id"])
        if live is None or live.frame is None:
            job = self.store.job(request.path_params["job_id"])
            if job is not None and self.store.result_path(job.id).is_file():
                return FileResponse(self.store.result_path(job.id), media_type="image/png",
                                    headers={"Cache-Control": "no-store"})
            return not_found("frame")
        return Response(live.frame, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def sample(self, request: Request) -> Response:
        job = self.store.job(request.path_params["job_id"])
        if job is None or not self.store.sample_path(job.id).is_file():
            return not_found("sample")
        return FileResponse(self.store.sample_path(job.id), media_type="image/png",
                            headers={"Cache-Control": "no-store"})

    @_job_errors
    async def preview(self, request: Request) -> Response:
        body = await _json_body(request)
        picture = await run_in_threadpool(self._preview, body)
        return Response(picture, media_type="image/png", headers={"Cache-Control": "no-store"})

    def _preview(self, body: dict[str, Any]) -> bytes:
        import styx
        from styx.core.method import method_spec, run_config_class

        model = self.runner.model(_stored_model_name(body.get("model")))
        spec = method_spec(model.method)
        fields = form_fields(run_config_class(spec))
        size = body.get("size", 192)
        if not isinstance(size, int) or not 16 <= size <= 1024:
            raise StyxError("size must be a whole number from 16 to 1024", "e.g. 160")
        content = self._image_id(body["content"], "content") if body.get("content") else None
        clip = self._clip_id(body["clip"]) if body.get("clip") and not content else None
        picture = self.store.clip_poster_path(clip) if clip else \
            self.store.image_path(content) if content else None
        with worded_for(fields):
            options = form_options(fields, body.get("options"))
            if "long_side" in {f["name"] for f in fields}:
                options["long_side"] = size
            _check_content(styx.method_config(spec.name, **options), content or clip, [])
            with self.runner.preview_lock:
                result = styx.stylize(spec.name, picture, model=model, **options)
        return png_bytes(result.to_pil())

    # -- events ----------------------------------------------------------------------------
    async def event_stream(self, request: Request) -> Response:
        events = self.runner.events
        stream = events.subscribe()

        async def messages() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                live = [self.runner.describe(j.id) for j in self.store.jobs() if j.live]
                yield _message({"type": "hello", "live": live})
                while not events.closed:
                    try:
                        event = await asyncio.wait_for(stream.get(), KEEP_ALIVE)
                    except asyncio.TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    if event is None:
                        return
                    yield _message(event)
            finally:
                events.unsubscribe(stream)

        return StreamingResponse(messages(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})


def _check_styles(spec: Any, model: Any, styles: list[str]) -> None:
    """StyxError unless a run takes ``styles``: a trained model the style images its
    generator declares (any number for one style input, which blends them; one each for
    several), a method those its spec says it uses."""
    if model is None:
        if styles and not spec.uses_styles:
            raise StyxError(f"{spec.name} takes no style images", "leave the styles out")
        return
    wanted = model.generator.style_inputs
    if styles and not wanted:
        raise StyxError(f"model {model.name!r} takes no style images: it holds its style(s)",
                        "leave the styles out")
    if wanted and not styles:
        raise StyxError(f"model {model.name!r} takes a style image at run time; none was "
                        "given", "pick a painting in the gallery or upload one")
    if len(wanted) > 1 and len(styles) != len(wanted):
        raise StyxError(f"model {model.name!r} takes {len(wanted)} style images, not "
                        f"{len(styles)}", "pick one for each: "
                        + ", ".join(item.name for item in wanted))


def _check_content(config: Any, content: str | None, styles: list[str]) -> None:
    """StyxError unless the run of ``config`` takes the images given, by its own rule (its
    ``check_inputs``, which ``styx run`` and ``styx.stylize`` ask too). A run that needs a
    content photo and has none is refused in the page's words; gatys without one stylises
    the bundled photo, and texture-nets' ``texture`` makes a texture, so they are not."""
    try:
        config.check_inputs(contents=int(content is not None), styles=len(styles))
    except FormError:
        raise
    except StyxError:
        if content is None and _takes_inputs(config, contents=1, styles=len(styles)):
            raise FormError("pick a content photo first") from None
        raise


def _takes_inputs(config: Any, *, contents: int, styles: int) -> bool:
    """Whether the run of ``config`` takes that many content and style images."""
    try:
        config.check_inputs(contents=contents, styles=styles)
    except StyxError:
        return False
    return True


def _has_checkpoint(method: str, train_options: dict[str, Any]) -> bool:
    """Whether the training run of ``train_options`` has written a checkpoint."""
    import styx
    from styx.training.feedforward import plan_training
    from styx.training.loop import CHECKPOINT_NAME

    options = {**train_options, "resume": True}
    plan = plan_training(styx.method_config(method, train=True, **options))
    return (plan.run_dir / CHECKPOINT_NAME).is_file()


def _video_options(given: Any) -> dict[str, Any]:
    """A clip job's video options (``{"temporal": WEIGHT}``, WEIGHT from 0 to 1 or empty:
    off), checked."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise StyxError("video must be an object of video options", "e.g. {\"temporal\": 0.6}")
    unknown = sorted(set(given) - {"temporal"})
    if unknown:
        raise StyxError(f"no video option {unknown[0]!r}", "the video options are: temporal")
    temporal = given.get("temporal")
    if isinstance(temporal, str):
        temporal = temporal.strip() or None
    if temporal is not None:
        try:
            temporal = float(temporal)
        except (TypeError, ValueError):
            temporal = -1.0
        if isinstance(given.get("temporal"), bool) or not 0.0 <= temporal <= 1.0:
            raise FormError("the steadier-video weight must be a number from 0 to 1, e.g. "
                            "0.6", field="temporal")
        from styx.video.temporal import opencv

        opencv()  # its error says how to get it, now rather than in the queue
    return {"temporal": temporal}


def _content_length(request: Request) -> int:
    try:
        return max(0, int(request.headers.get("content-length") or 0))
    except ValueError:
        return 0


def _message(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"


def _stored_model_name(name: Any) -> str:
    """A model of the store, by name (never a path)."""
    from styx.core.checks import check_model_name

    if not isinstance(name, str) or not name:
        raise StyxError("give a model's name", "see /api/catalogue for the models")
    try:
        return check_model_name(name)
    except StyxError:
        raise StyxError(f"no model {name!r} in the store",
                        "'styx models list' shows the models") from None


__all__ = ["RequestGuard", "Studio", "StudioSettings", "create_app"]
