"""An exported ``.onnx`` generator, opened in onnxruntime: no torch anywhere.

:class:`OnnxGenerator` checks the file when it opens it (a corrupt file, or a graph without
the inputs and output styx writes, is a one-line StyxError), reads the metadata the
exporter stored, picks the execution provider and runs batches of images::

    generator = OnnxGenerator.open("starry.onnx", provider="auto")
    out = generator.run(images, seed=0,
                        **{generator.per_style_input: generator.style_weights("starry")})

Each input is filled by the kind the exporter recorded (:mod:`styx.core.inputs`): the
content input takes the photos; a style input takes the image given for it (``--style-image``;
there is no default); noise is drawn by pixel position from ``seed`` (:mod:`styx.files.noise`,
as ``styx run`` draws it), so a seed gives the same picture every time, tiled or not;
settings (StyleBank's style weights, AdaIN's strength) take the exported default unless
given.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from styx.core.errors import StyxError
from styx.core.inputs import CONTENT, NOISE, SETTING, STATISTICS, STYLE
from styx.files.atomic import atomic_path

#: How the file's inputs of each kind are filled (the metadata's ``fill``).
FILLS = {CONTENT: "content", STYLE: "image", NOISE: "uniform", SETTING: "default",
         STATISTICS: "zeros"}

#: The metadata_props key of the JSON the exporter writes, and that field's number in
#: ModelProto (onnx.proto).
METADATA_KEY, MODEL_METADATA_FIELD = "styx", 14
#: The graph's output.
OUTPUT_NAME = "output"
#: The tiling inputs and output of a generator with instance norms (see
#: :class:`styx.exports.onnx.graph.GraphModule`).
STATISTICS_INPUT, BLEND_INPUT, STATISTICS_OUTPUT = ("norm_statistics", "norm_blend",
                                                    "kept_statistics")
#: ``--provider`` choices: what each asks onnxruntime for, in order of preference.
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
_EXPORT_AGAIN = "export it again with 'styx export METHOD --onnx'"
#: The first region of onnxruntime's CPU arena (see :func:`_share_cpu_arena`).
ARENA_FIRST_REGION = 256 * 2**20
#: onnxruntime's graph optimisers left out of CPU sessions of int8 files. The NHWC
#: transformer runs the int8 convolutions channels-last between Transposes, which cost
#: more than the layout saves. EnsureUniqueDQForNodeUnit gives every reader of a
#: DequantizeLinear its own copy, so that each QDQ group can fuse alone: after an int8
#: convolution the readers are a float instance norm's (its reductions and its
#: BatchNormalization), which fuse with nothing, and each copy is a full-size float map
#: more (texture-nets' five int8 convolutions: 25 DequantizeLinear instead of 5, the same
#: QLinearConv fusions). Without both, texture-nets int8 at 1024x768 on one AVX-512 VNNI
#: core: 0.57 s instead of 0.71 (fp32: 0.87). fp32 files have nothing for them to change.
INT8_CPU_OPTIMIZERS_OFF = ("NhwcTransformer", "EnsureUniqueDQForNodeUnit")


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The styx metadata of the ONNX file ``path`` (without building a session, nor
    importing ``onnx``); a missing, corrupt or foreign file is a StyxError."""
    path = _existing_file(path)
    return metadata_of(path.read_bytes(), path)


def metadata_of(model: bytes, path: Path) -> dict[str, Any]:
    """The styx metadata of ``model``, the bytes of the ONNX file ``path``: the entry
    :data:`METADATA_KEY` of the ModelProto's ``metadata_props`` (field 14), read from the
    protobuf wire format, the graph skipped unread."""
    try:
        props = dict(_string_pairs(model, MODEL_METADATA_FIELD))
    except (IndexError, ValueError, UnicodeDecodeError):
        raise StyxError(f"{path} is not a readable ONNX file", _EXPORT_AGAIN) from None
    return _parse_metadata(props.get(METADATA_KEY), path)


def _string_pairs(message: bytes, number: int) -> Iterator[tuple[str, str]]:
    """The (key, value) of each StringStringEntryProto in field ``number`` of
    ``message``."""
    for field, value in _fields(memoryview(message)):
        if field == number:
            entry = dict(_fields(value))
            key, text = entry.get(1, b""), entry.get(2, b"")
            if not isinstance(key, memoryview | bytes) or not isinstance(text, memoryview | bytes):
                raise ValueError("not a string")
            yield bytes(key).decode(), bytes(text).decode()


def _fields(view: memoryview) -> Iterator[tuple[int, Any]]:
    """(number, value) of each field of a protobuf message: varints as ints,
    length-delimited fields as views (nothing copied), fixed-size ones as bytes. A message
    cut short or of an unknown wire type is a ValueError."""
    position, end = 0, len(view)
    while position < end:
        tag, position = _varint(view, position)
        kind = tag & 7
        if kind == 0:
            value, position = _varint(view, position)
        elif kind in (1, 5):
            size = 8 if kind == 1 else 4
            value, position = bytes(view[position:position + size]), position + size
        elif kind == 2:
            size, position = _varint(view, position)
            value, position = view[position:position + size], position + size
        else:
            raise ValueError(f"wire type {kind}")
        if position > end:
            raise ValueError("message cut short")
        yield tag >> 3, value


def _varint(view: memoryview, position: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = view[position]  # IndexError past the end
        value |= (byte & 0x7F) << shift
        position += 1
        if byte < 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _existing_file(path: str | os.PathLike[str]) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise StyxError(f"model file not found: {path}", "check the path")
    if not path.is_file():
        raise StyxError(f"{path} is not a file", "give an .onnx file from 'styx export'")
    return path


def _parse_metadata(text: str | None, path: Path) -> dict[str, Any]:
    if text is None:
        raise StyxError(f"{path} has no styx metadata",
                        "give a file written by 'styx export METHOD --onnx'")
    try:
        metadata = json.loads(text)
    except ValueError:
        raise StyxError(f"{path} has damaged styx metadata", _EXPORT_AGAIN) from None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("inputs"), dict) or \
            not all(isinstance(entry, dict) for entry in metadata["inputs"].values()):
        raise StyxError(f"{path} has damaged styx metadata (no inputs)", _EXPORT_AGAIN)
    for name, entry in metadata["inputs"].items():
        entry.setdefault("kind", _kind_of_old_entry(name, entry))
        if entry["kind"] == CONTENT:
            entry.setdefault("fill", FILLS[CONTENT])
    return metadata


def _kind_of_old_entry(name: str, entry: dict[str, Any]) -> str | None:
    """The kind of an input of a file written before kinds were recorded (styx 0.2): its
    content input is called ``image``; the rest show their kind by how they are filled."""
    if name == "image" and "fill" not in entry:
        return CONTENT
    return {fill: kind for kind, fill in FILLS.items()}.get(entry.get("fill"))


@dataclass
class OnnxGenerator:
    """An exported generator in an onnxruntime session (see the module docstring)."""

    path: Path
    session: Any
    metadata: dict[str, Any]
    #: The provider the session really uses (``CUDAExecutionProvider``, ...).
    provider: str
    #: Why ``auto`` ran on the CPU, when it did (for the command's note).
    fallback: str | None = None
    #: The graph the session runs, as onnxruntime optimised it (an ONNX file), kept by
    #: ``open(keep_graph=True)`` on the CPU for :mod:`styx.inference.footprint`.
    graph_file: Path | None = None
    #: The SHA-256 of the file's bytes (hex), what caches of it are keyed by.
    digest: str = ""

    @property
    def graph(self) -> bytes | None:
        """The optimised graph (a serialised ModelProto), when the session kept it."""
        return self.graph_file.read_bytes() if self.graph_file is not None else None

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, provider: str = "auto",
             threads: int | None = None, keep_graph: bool = False) -> OnnxGenerator:
        """The file at ``path`` in a session on ``provider`` (auto, cuda, tensorrt, cpu).

        ``auto`` takes CUDA when onnxruntime has it and this machine shows an NVIDIA GPU,
        else the CPU (and says why in ``fallback``); ``cuda``/``tensorrt`` that cannot be
        used are a StyxError. ``threads``: CPU threads (None: onnxruntime's choice, one a
        physical core). ``keep_graph`` (CPU only): keep the graph onnxruntime optimised
        (:attr:`graph_file`) in ``$STYX_HOME/cache/onnx-graphs``, and start the next
        session of the same file from it, unoptimised (:func:`_session_of`).

        On the CPU the memory pattern is off: it would plan a second block beside the
        arena's chunks for the second run of a size (1.8x the first run's memory,
        benchmarks/memory_infer.py), for no speed the arena does not give already; the
        arena starts with one large region (:func:`_share_cpu_arena`); and an int8 file's
        session leaves out the optimisers of :data:`INT8_CPU_OPTIMIZERS_OFF`."""
        import onnxruntime as ort

        path = _existing_file(path)
        wanted, fallback = _provider_wanted(ort, provider)
        if wanted != "cpu":
            _prepare_cuda(ort)
        model = path.read_bytes()
        digest = hashlib.sha256(model).hexdigest()
        metadata, unreadable = _metadata_or_error(model, path)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: a CPU fallback is reported by styx
        if threads:
            options.intra_op_num_threads = int(threads)
        kept, off = None, []
        if wanted == "cpu":
            options.enable_mem_pattern = False
            if _share_cpu_arena(ort):
                options.add_session_config_entry("session.use_env_allocators", "1")
            if metadata.get("precision") == "int8":
                off = list(INT8_CPU_OPTIMIZERS_OFF)
            if keep_graph and len(model) < 2**30:  # protobuf's limit is 2 GiB
                kept = _graph_place(digest, ort.__version__, off)
        session, graph_file = _session_of(ort, path, options, PROVIDERS[wanted], kept, off)
        used = session.get_providers()[0]
        if wanted != "cpu" and used != PROVIDERS[wanted][0]:
            if provider != "auto":
                libraries = "TensorRT, CUDA and cuDNN" if wanted == "tensorrt" else \
                    "CUDA and cuDNN"
                raise StyxError(f"--provider {provider}: onnxruntime could not start "
                                f"{PROVIDERS[wanted][0]} and fell back to {used}",
                                f"check the {libraries} libraries, or give --provider cpu")
            fallback = "onnxruntime could not start CUDA"
        if unreadable is not None:  # after the session, whose error says more of a bad file
            raise unreadable
        generator = cls(path=path, session=session, provider=used, fallback=fallback,
                        metadata=metadata, graph_file=graph_file, digest=digest)
        generator._check_graph()
        return generator

    def _check_graph(self) -> None:
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        declared = self.metadata["inputs"]
        content = self.content_input
        if content is None or content not in inputs or len(inputs[content].shape) != 4:
            raise StyxError(f"{self.path} takes no N x 3 x H x W content image",
                            "styx infer stylises images; " + _EXPORT_AGAIN)
        if set(inputs) != set(declared):
            raise StyxError(f"{self.path} has inputs {sorted(inputs)}, its metadata "
                            f"{sorted(declared)}", _EXPORT_AGAIN)
        expected = [OUTPUT_NAME] + ([STATISTICS_OUTPUT] if STATISTICS_INPUT in declared else [])
        if outputs != expected:
            raise StyxError(f"{self.path} has outputs {outputs}, not {expected}",
                            _EXPORT_AGAIN)
        for name, entry in declared.items():
            fills = ("zeros", "default") if entry.get("kind") == STATISTICS else \
                (FILLS.get(entry.get("kind")),)
            if entry.get("kind") not in FILLS or entry.get("fill") not in fills:
                raise StyxError(f"{self.path}: styx cannot fill its input {name!r}",
                                _EXPORT_AGAIN)

    # -- what it takes ---------------------------------------------------------------------
    def names_of_kind(self, kind: str) -> list[str]:
        """The file's inputs of ``kind`` (see :mod:`styx.core.inputs`), in order."""
        return inputs_of_kind(self.metadata, kind)

    @property
    def content_input(self) -> str | None:
        names = self.names_of_kind(CONTENT)
        return names[0] if names else None

    @property
    def style_inputs(self) -> list[str]:
        """The style images the file takes at run time (``--style-image``, in order)."""
        return self.names_of_kind(STYLE)

    # -- what it holds ---------------------------------------------------------------------
    @property
    def styles(self) -> list[str]:
        return [str(name) for name in self.metadata.get("styles") or []]

    @property
    def smallest_size(self) -> int:
        return int(self.metadata.get("smallest_size") or 1)

    @property
    def method(self) -> str:
        return str(self.metadata.get("method", ""))

    @property
    def per_style_input(self) -> str | None:
        """The setting of one value per held style (StyleBank's style weights), if any; a
        file written before settings said so: the setting of as many values as styles."""
        inputs = self.metadata["inputs"]
        for name in self.names_of_kind(SETTING):
            entry = inputs[name]
            if entry.get("per_style") or ("per_style" not in entry and self.styles and
                                          entry.get("shape") == [len(self.styles)] and
                                          len(self.styles) > 1):
                return name
        return None

    def style_weights(self, style: str | int | None = None,
                      mix: str | dict[str, float] | None = None, strength: float = 1.0
                      ) -> np.ndarray | None:
        """The values of the per-style setting (:attr:`per_style_input`) for one style or
        a mix (text or a mapping), chosen by the method's ``style_choice`` (see
        ``MethodSpec``); None for a file that takes none."""
        if self.per_style_input is None:
            if style is not None or mix is not None:
                raise StyxError(f"{self.path.name} holds one style and takes no --style",
                                "--style and --style-mix are for files of many styles")
            return None
        from styx.core.method import method_spec
        from styx.core.specs import load_object

        spec = method_spec(self.method)
        if spec.style_choice is None:
            raise StyxError(f"{self.path.name}: method {spec.name!r} chooses no styles",
                            _EXPORT_AGAIN)
        vector = load_object(spec.style_choice)(
            self.styles, style=style, mix=mix, strength=strength,
            owner=f"file {self.path.name!r}", source=str(self.path))
        return np.asarray(vector, dtype=np.float32)

    def reconstruction(self) -> np.ndarray | None:
        """The per-style setting all zeros: no style, the photo as the model reconstructs
        it; None for a file that takes none."""
        name = self.per_style_input
        return None if name is None else \
            np.zeros(int(self.metadata["inputs"][name]["shape"][0]), np.float32)

    # -- running ---------------------------------------------------------------------------
    def inputs_for(self, images: np.ndarray, *, seed: int, origin: tuple[int, int] = (0, 0),
                   **given: np.ndarray | None) -> dict[str, np.ndarray]:
        """Every input for ``images``: see :func:`fill_inputs`."""
        return fill_inputs(self.metadata, images, seed=seed, origin=origin, **given)

    def run(self, images: np.ndarray, *, seed: int = 0, origin: tuple[int, int] = (0, 0),
            statistics: np.ndarray | None = None, **given: np.ndarray | None) -> np.ndarray:
        """Stylise ``images`` (N x 3 x H x W float32 in [0, 1]); N x 3 x H x W in [0, 1].
        ``statistics``: normalise by these (a thumbnail's, :meth:`statistics_of`) instead
        of the images' own."""
        self._check_size(images)
        if statistics is not None and STATISTICS_INPUT in self.metadata["inputs"]:
            given = {**given, STATISTICS_INPUT: statistics,
                     BLEND_INPUT: np.ones(1, dtype=np.float32)}
        out = self._run(self.inputs_for(images, seed=seed, origin=origin, **given))[0]
        return np.clip(out, 0.0, 1.0, out=out)

    def statistics_of(self, images: np.ndarray, *, seed: int = 0,
                      **given: np.ndarray | None) -> np.ndarray | None:
        """The normalisation statistics of ``images`` (N x S x 2), for its tiles; None for
        a file without instance norms."""
        if STATISTICS_INPUT not in self.metadata["inputs"]:
            return None
        self._check_size(images)
        return self._run(self.inputs_for(images, seed=seed, **given))[1]

    def _check_size(self, images: np.ndarray) -> None:
        height, width = images.shape[-2:]
        if min(height, width) < self.smallest_size:
            raise StyxError(f"an image of {width}x{height} is smaller than this file's "
                            f"smallest size, {self.smallest_size} px a side",
                            "give a larger image (or --long-side)")

    def _run(self, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """One session run; on a GPU with I/O binding: inputs copied to the GPU once, the
        output left there until it is read back (no extra host copies inside onnxruntime)."""
        if self.provider == "CPUExecutionProvider":
            return self.session.run(None, feed)
        binding = self.session.io_binding()
        for name, value in feed.items():
            binding.bind_cpu_input(name, value)
        for output in self.session.get_outputs():
            binding.bind_output(output.name, "cuda")
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()


def inputs_of_kind(metadata: dict[str, Any], kind: str) -> list[str]:
    """The inputs of ``kind`` a file with ``metadata`` declares, in order."""
    return [name for name, entry in metadata["inputs"].items() if entry.get("kind") == kind]


def stand_in_styles(metadata: dict[str, Any], pictures: list[np.ndarray], index: int
                    ) -> dict[str, np.ndarray]:
    """Style images for checks and calibration, where no painting is at hand: for the
    ``index``-th of ``pictures`` (1 x 3 x H x W each), the next ones, one per style input."""
    names = inputs_of_kind(metadata, STYLE)
    return {name: pictures[(index + 1 + offset) % len(pictures)]
            for offset, name in enumerate(names)}


def fill_inputs(metadata: dict[str, Any], images: np.ndarray, *, seed: int,
                origin: tuple[int, int] = (0, 0), **given: np.ndarray | None
                ) -> dict[str, np.ndarray]:
    """Every input of a file with ``metadata`` for ``images`` (N x 3 x H x W float32), by
    kind: the content input takes ``images``; ``given`` ones as given; a style image must
    be given; noise is drawn from ``seed`` and ``origin`` (a tile's top-left corner);
    settings default to the metadata's values."""
    feed = {}
    batch, _, height, width = images.shape
    for name, entry in metadata["inputs"].items():
        if entry["kind"] == CONTENT:
            feed[name] = np.ascontiguousarray(images, dtype=np.float32)
        elif given.get(name) is not None:
            feed[name] = np.ascontiguousarray(given[name], dtype=np.float32)
        elif entry["kind"] == STYLE:
            raise StyxError(f"this file takes a style image (input {name!r}); none was given",
                            "give --style-image PAINTING")
        elif entry["fill"] == "zeros":
            feed[name] = np.zeros((batch, *[int(s) for s in entry["shape"][1:]]),
                                  dtype=np.float32)
        elif entry["fill"] == "uniform":
            from styx.files.noise import position_noise

            feed[name] = position_noise(seed, batch, int(entry["shape"][1]), height, width,
                                        top=origin[0], left=origin[1])
        else:
            feed[name] = np.asarray(entry["default"], dtype=np.float32).reshape(
                [int(s) for s in entry["shape"]])
    return feed


def _provider_wanted(ort: Any, provider: str) -> tuple[str, str | None]:
    """The ``PROVIDERS`` key ``provider`` (``--provider``) comes to, and why ``auto`` runs
    on the CPU when it does."""
    if provider not in ("auto", *PROVIDERS):
        raise StyxError(f"unknown --provider {provider!r}", "choose auto, cuda, tensorrt or cpu")
    available = ort.get_available_providers()
    if provider != "auto":
        if PROVIDERS[provider][0] not in available:
            raise StyxError(f"--provider {provider}: this onnxruntime has no "
                            f"{PROVIDERS[provider][0]}",
                            "install onnxruntime-gpu, or give --provider cpu")
        return provider, None
    if "CUDAExecutionProvider" in available and _has_gpu():
        return "cuda", None
    return "cpu", ("onnxruntime sees no CUDA GPU" if "CUDAExecutionProvider" in available
                   else "this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")


def _metadata_or_error(model: bytes, path: Path) -> tuple[dict[str, Any], StyxError | None]:
    """:func:`metadata_of` the file, or no metadata and the error it raised (raised once
    the session has tried the file: a file onnxruntime cannot load is reported as such)."""
    try:
        return metadata_of(model, path), None
    except StyxError as error:
        return {}, error


def _start(ort: Any, path: Path, options: Any, providers: list[str],
           optimizers_off: list[str]) -> Any:
    """An onnxruntime session of the file ``path`` without the graph optimisers
    ``optimizers_off``; a file it cannot load is a StyxError."""
    off = {"disabled_optimizers": optimizers_off} if optimizers_off else {}
    try:
        # onnxruntime prints a banner on stdout when a provider fails and it falls back
        # (which would spoil --json); styx says what happened itself.
        with contextlib.redirect_stdout(io.StringIO()):
            return ort.InferenceSession(str(path), sess_options=options, providers=providers,
                                        **off)
    except Exception as error:  # noqa: BLE001 - onnxruntime raises its own kinds
        raise StyxError(f"cannot open {path} in onnxruntime: {_reason(error)}",
                        "is it a whole .onnx file from 'styx export', for this "
                        "onnxruntime? Export it again") from None


def _session_of(ort: Any, path: Path, options: Any, providers: list[str],
                kept: Path | None, optimizers_off: list[str]) -> tuple[Any, Path | None]:
    """A session of ``path`` (without the optimisers ``optimizers_off``), and the optimised
    graph's file when ``kept`` says where it goes. When ``kept`` holds it already (a
    session of these bytes before), the session starts from it with optimisation off: the
    same graph and kernels (the same pixels), without optimising the graph again. Else the
    optimised graph is saved there as the session starts (atomically: processes may share
    the cache)."""
    if kept is not None and kept.is_file():
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        with contextlib.suppress(StyxError):  # a damaged copy: made again below
            session = _start(ort, kept, options, providers, optimizers_off)
            with contextlib.suppress(OSError):
                os.utime(kept)  # recently used: pruned last
            return session, kept
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if kept is None:
        return _start(ort, path, options, providers, optimizers_off), None
    try:
        with atomic_path(kept) as temporary:
            options.optimized_model_filepath = str(temporary)
            session = _start(ort, path, options, providers, optimizers_off)
    except OSError:  # the graph could not be saved: a session without it
        options.optimized_model_filepath = ""
        return _start(ort, path, options, providers, optimizers_off), None
    return session, kept


#: Where ``keep_graph`` keeps optimised graphs, under ``$STYX_HOME``, and how many at most
#: (the least recently used go first).
GRAPH_CACHE, GRAPH_CACHE_ENTRIES = Path("cache") / "onnx-graphs", 16


def _graph_place(digest: str, version: str, optimizers_off: list[str]) -> Path:
    """Where the optimised graph of the file of SHA-256 ``digest`` goes, in onnxruntime
    ``version`` on this CPU (the graph holds its layout, e.g. AVX-512's NCHWc blocks),
    optimised without ``optimizers_off``: the cache, or where it cannot be written, a
    temporary folder of this process."""
    from styx.files.home import styx_home

    without = "".join(f"-no{optimizer}" for optimizer in optimizers_off)
    name = f"{digest[:32]}-ort{version}-cpu-{_machine_signature()}{without}.onnx"
    folder = styx_home() / GRAPH_CACHE
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            _prune(folder, keep=GRAPH_CACHE_ENTRIES - 1, spare=name)
            return folder / name
    except OSError:
        pass
    scratch = tempfile.mkdtemp(prefix="styx-graph-")
    atexit.register(shutil.rmtree, scratch, True)
    return Path(scratch) / name


def _prune(folder: Path, *, keep: int, spare: str) -> None:
    """Remove all but the ``keep`` most recently used graphs of ``folder`` (and ``spare``)."""
    graphs = sorted((p for p in folder.glob("*.onnx") if p.name != spare),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in graphs[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


def _machine_signature() -> str:
    """A short hash of what an optimised CPU graph depends on besides onnxruntime: the
    machine and its CPU's model and instruction sets."""
    import platform

    text = platform.machine() + platform.processor()
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        text += "".join(next((line for line in lines if line.startswith(key)), "")
                        for key in ("model name", "flags"))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.cache
def _share_cpu_arena(ort: Any) -> bool:
    """Register, once a process, the CPU arena sessions share (``session.use_env_allocators``):
    onnxruntime's BFC arena with a first region of :data:`ARENA_FIRST_REGION` instead of
    1 MiB. The arena never merges chunks of different regions, so regions doubling from
    1 MiB leave a run's large tensors scattered over several: one large region holds them
    with less waste (a 1024x768 texture-nets run: 690 MB resident instead of 876 MB) and
    fewer pages to fault in. Untouched, the region costs no memory. False (each session its
    own default arena) where onnxruntime refuses."""
    try:
        info = ort.OrtMemoryInfo("Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0,
                                 ort.OrtMemType.DEFAULT)
        ort.create_and_register_allocator(info, ort.OrtArenaCfg(
            {"arena_extend_strategy": 0, "initial_chunk_size_bytes": ARENA_FIRST_REGION}))
    except Exception:  # noqa: BLE001 - an older onnxruntime: its default arena
        return False
    return True


def _reason(error: Exception) -> str:
    """onnxruntime's message, on one line, without its "[ONNXRuntimeError] : N : KIND :"
    prefix or the path it repeats."""
    text = " ".join(str(error).split()) or type(error).__name__
    if text.startswith("[ONNXRuntimeError]"):
        text = text.split(" : ", 3)[-1]
    _, sep, tail = text.partition(" failed:")
    text = tail.strip() if sep and tail.strip() else text
    if text.startswith("/") and ") " in text:  # a C++ source location and signature first
        text = text.rpartition(") ")[2]
    return text


def _prepare_cuda(ort: Any) -> None:
    """Let onnxruntime find the CUDA and cuDNN libraries that pip installed (PyTorch's
    wheels bring them), and keep its own messages about a failed CUDA start quiet: styx
    says what happened in one line."""
    preload = getattr(ort, "preload_dlls", None)
    if preload is not None:
        with contextlib.suppress(Exception):  # only a help: the session start tells the rest
            preload()
    ort.set_default_logger_severity(4)


def _has_gpu() -> bool:
    """Whether this machine shows an NVIDIA GPU, without starting CUDA (which takes a
    second or more even when it then finds none)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    if os.name == "nt":
        return True  # no cheap test; onnxruntime falls back and styx reports it
    return any(Path("/dev").glob("nvidia[0-9]*"))
