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

import contextlib
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from styx.core.errors import StyxError
from styx.core.inputs import CONTENT, NOISE, SETTING, STATISTICS, STYLE

#: How the file's inputs of each kind are filled (the metadata's ``fill``).
FILLS = {CONTENT: "content", STYLE: "image", NOISE: "uniform", SETTING: "default",
         STATISTICS: "zeros"}

#: The metadata_props key of the JSON the exporter writes.
METADATA_KEY = "styx"
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


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The styx metadata of the ONNX file ``path`` (without building a session); a
    missing, corrupt or foreign file is a StyxError."""
    import onnx

    path = _existing_file(path)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf raises many kinds
        raise StyxError(f"{path} is not a readable ONNX file ({type(error).__name__})",
                        _EXPORT_AGAIN) from None
    props = {entry.key: entry.value for entry in proto.metadata_props}
    return _parse_metadata(props.get(METADATA_KEY), path)


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
    #: The graph the session runs, as onnxruntime optimised it (a serialised ModelProto),
    #: kept by ``open(keep_graph=True)`` on the CPU for :mod:`styx.inference.footprint`.
    graph: bytes | None = None

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str], *, provider: str = "auto",
             threads: int | None = None, keep_graph: bool = False) -> OnnxGenerator:
        """The file at ``path`` in a session on ``provider`` (auto, cuda, tensorrt, cpu).

        ``auto`` takes CUDA when onnxruntime has it and this machine shows an NVIDIA GPU,
        else the CPU (and says why in ``fallback``); ``cuda``/``tensorrt`` that cannot be
        used are a StyxError. ``threads``: CPU threads (None: onnxruntime's choice).
        ``keep_graph``: keep the graph onnxruntime optimised (:attr:`graph`, CPU only).

        On the CPU the memory pattern is off: it would plan a second block beside the
        arena's chunks for the second run of a size (1.8x the first run's memory,
        benchmarks/memory_infer.py), for no speed the arena does not give already."""
        import onnxruntime as ort

        path = _existing_file(path)
        if provider not in ("auto", *PROVIDERS):
            raise StyxError(f"unknown --provider {provider!r}",
                            "choose auto, cuda, tensorrt or cpu")
        available = ort.get_available_providers()
        fallback = None
        wanted = provider
        if provider == "auto":
            wanted = "cuda" if "CUDAExecutionProvider" in available and _has_gpu() else "cpu"
            if wanted == "cpu":
                fallback = "onnxruntime sees no CUDA GPU" if \
                    "CUDAExecutionProvider" in available else \
                    "this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)"
        elif PROVIDERS[provider][0] not in available:
            raise StyxError(f"--provider {provider}: this onnxruntime has no "
                            f"{PROVIDERS[provider][0]}",
                            "install onnxruntime-gpu, or give --provider cpu")
        if wanted != "cpu":
            _prepare_cuda(ort)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: a CPU fallback is reported by styx
        if threads:
            options.intra_op_num_threads = int(threads)
        kept = None
        if wanted == "cpu":
            options.enable_mem_pattern = False
            if keep_graph and path.stat().st_size < 2**30:  # protobuf's limit is 2 GiB
                kept = Path(tempfile.mkdtemp(prefix="styx-graph-")) / "optimised.onnx"
                options.optimized_model_filepath = str(kept)
        try:
            # onnxruntime prints a banner on stdout when a provider fails and it falls back
            # (which would spoil --json); styx says what happened itself.
            with contextlib.redirect_stdout(io.StringIO()):
                session = ort.InferenceSession(str(path), sess_options=options,
                                               providers=PROVIDERS[wanted])
        except Exception as error:  # noqa: BLE001 - onnxruntime raises its own kinds
            raise StyxError(f"cannot open {path} in onnxruntime: {_reason(error)}",
                            "is it a whole .onnx file from 'styx export', for this "
                            "onnxruntime? Export it again") from None
        finally:
            graph = _take_file(kept)
        used = session.get_providers()[0]
        if wanted != "cpu" and used != PROVIDERS[wanted][0]:
            if provider != "auto":
                libraries = "TensorRT, CUDA and cuDNN" if wanted == "tensorrt" else \
                    "CUDA and cuDNN"
                raise StyxError(f"--provider {provider}: onnxruntime could not start "
                                f"{PROVIDERS[wanted][0]} and fell back to {used}",
                                f"check the {libraries} libraries, or give --provider cpu")
            fallback = "onnxruntime could not start CUDA"
        meta = session.get_modelmeta().custom_metadata_map
        generator = cls(path=path, session=session, provider=used, fallback=fallback,
                        metadata=_parse_metadata(meta.get(METADATA_KEY), path), graph=graph)
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


def _take_file(path: Path | None) -> bytes | None:
    """The bytes of ``path`` (None when there is none), and its folder removed."""
    if path is None:
        return None
    try:
        return path.read_bytes() if path.is_file() else None
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


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
