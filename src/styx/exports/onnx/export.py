"""The exporter's function: trace the generator, quantise it if asked, check the file.

:func:`export_onnx` is what ``ExporterSpec.export`` names; the steps are :mod:`.graph`
(torch to ONNX), :mod:`.quantize` (int8) and :mod:`.check` (onnxruntime against PyTorch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx

from styx.core.errors import StyxError
from styx.exports.onnx import graph
from styx.exports.onnx.check import check_file
from styx.exports.onnx.config import OnnxOptions
from styx.exports.onnx.quantize import quantize_int8
from styx.generators.models import Model


def export_onnx(model: Model, output: Path, config: OnnxOptions) -> dict[str, Any]:
    """Write ``model`` as an ONNX file at ``output`` (the exporter plugin's function);
    returns what ``styx export`` reports (the precision, the input sizes, the check)."""
    generator = graph.float_copy(model.generator)
    names = list(generator.input_names)
    axes = graph.dynamic_axes(generator)
    metadata = graph.file_metadata(model, config, names, axes, graph.smallest_size(generator))
    proto = graph.trace(generator, names, axes, config)
    graph.attach(proto, metadata)
    if config.quantize:
        proto = quantize_int8(proto, metadata, config, generator)
        graph.attach(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(proto, str(output))
    details: dict[str, Any] = {"precision": config.precision, "fast_on": metadata["fast_on"],
                               "smallest_size": metadata["smallest_size"]}
    if config.verify:
        report = check_file(output, model, config)
        details["check"] = ("passed: " if report.passed else "failed: ") + report.summary()
        details["check_cases"] = [f"{case.size} x{case.batch} {case.inputs}: {case.value:g}"
                                  for case in report.cases]
        if not report.passed:
            raise StyxError(f"--check failed: {report.summary()}",
                            "nothing was written; 'styx export ... --onnx' without --check "
                            "writes the file anyway")
    return details
