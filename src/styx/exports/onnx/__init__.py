"""The ONNX exporter: ``styx export METHOD --onnx`` and ``styx.export(model, "onnx")``.

A plugin like any other, registered by styx-nst's own ``styx`` entry point. It exports any
feed-forward method's generator (a third-party one's included) through the core generator
interface alone: the graph's inputs are the generator's declared inputs, the sizes that
vary between calls become dynamic axes. Modules: :mod:`.config` (the options),
:mod:`.export` (the exporter's function), :mod:`.graph` (torch to ONNX), :mod:`.quantize`
(int8), :mod:`.check` (onnxruntime against PyTorch); the metadata the file carries is read by :mod:`styx.inference.onnxfile`,
which imports no torch. This module imports no torch either.
"""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import ExporterSpec

PACKAGE = "styx.exports.onnx"

SPEC = ExporterSpec(
    name="onnx",
    summary="an ONNX file, run by onnxruntime on GPU or CPU ('styx infer').",
    export=f"{PACKAGE}.export:export_onnx",
    config=f"{PACKAGE}.config:OnnxOptions",
    suffix=".onnx",
)


@hookimpl
def register_exporters(register) -> None:
    register(SPEC)
