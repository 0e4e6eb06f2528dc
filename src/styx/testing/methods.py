"""The conformance checks of a method plugin (:func:`check_method`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from styx.testing.imports import check_light, module_of, plugin_module
from styx.testing.report import CheckReport, without_notes

#: Options that make a run quick, set where a config has them and the caller did not: the
#: names of styx's bundles and the usual ones of methods (as scikit-learn's checks lower
#: ``max_iter``).
QUICK_RUN: dict[str, Any] = {"weights": "random", "device": "cpu", "size": 64, "steps": 2,
                             "style_size": 64}
QUICK_TRAIN: dict[str, Any] = {"weights": "random", "device": "cpu", "iterations": 2,
                               "batch_size": 1, "image_size": 32, "style_size": 32,
                               "checkpoint_every": 0, "log_every": 1, "quiet": True}


@without_notes
def check_method(name: str, *, run_options: dict[str, Any] | None = None,
                 train_options: dict[str, Any] | None = None,
                 raise_on_failure: bool = True) -> CheckReport:
    """Check the registered method ``name`` against the method contract.

    It must: import no torch in its plugin module or config modules; have configs whose
    every command-line option has help text and a type the command line parses, and no
    field named like a keyword of ``styx.stylize``; make its ``styx run``/``styx train``
    commands (``--help`` works). Then, on small images (the sample photo and painting)
    with quick settings (``QUICK_RUN``/``QUICK_TRAIN`` where the config has such fields,
    then ``run_options``/``train_options``), a method that runs must return a
    :class:`~styx.core.method.RunResult` whose image is a finite 1 x 3 x H x W tensor in
    [0, 1] and whose summary is JSON, and give the same image again for the same seed. A
    feed-forward method must train (into a temporary folder: the model store is not
    touched), save a model that loads as this method's, and run it the same way, with the
    sample painting for each style image its generator declares (``Generator.inputs``);
    such a model must follow them: swapping a painting for its colour negative moves the
    output, and, unless it declares noise, another seed does not (a style input filled with
    noise). When the ONNX exporter is installed, the model must export to ONNX and pass its
    ``--check`` (onnxruntime against PyTorch at three sizes).
    """
    from styx.core.method import method_spec

    spec = method_spec(name)
    report = CheckReport("method", spec.name)
    check_light(report, [plugin_module(spec.plugin), module_of(spec.config),
                         module_of(spec.train_config)])
    classes = _check_configs(report, spec)
    _check_commands(report, spec)
    with tempfile.TemporaryDirectory(prefix="styx-check-") as folder:
        inputs = _inputs(Path(folder))
        model = None
        if spec.trains and "train config" in classes:
            model = _check_training(report, spec, classes["train config"], inputs,
                                    train_options or {})
        if spec.run is not None and "run config" in classes:
            if spec.feed_forward and model is None:
                report.skip_rest(["runs", "same seed, same image"], "no trained model")
            else:
                _check_running(report, spec, classes["run config"], inputs,
                               run_options or {}, model)
        if model is not None:
            _check_export(report, model, Path(folder))
    return report.raise_for_failures() if raise_on_failure else report


# -- configs and commands ------------------------------------------------------------------
def _check_configs(report: CheckReport, spec: Any) -> dict[str, type]:
    from styx.core.config import cli_type_of, options_of
    from styx.core.method import RUN_KEYWORDS
    from styx.core.specs import load_object

    classes: dict[str, type] = {}
    for label, target in (("run config", spec.config), ("train config", spec.train_config)):
        if target is None:
            continue
        with report.check(f"{label} is well formed") as details:
            cls = load_object(target)
            infos = options_of(cls)  # a TypeError names a field not made with option()
            classes[label] = cls  # usable, even if a check below fails
            for info in (info for info in infos if info.option.cli):
                assert info.option.help.strip(), f"{info.flag} has no help text"
                cli_type_of(info)  # a TypeError names a type the command line cannot parse
            if label == "run config":
                reserved = sorted({i.field for i in infos} & set(RUN_KEYWORDS))
                assert not reserved, f"fields named like keywords of styx.stylize: " \
                    f"{', '.join(reserved)}"
            details.append(f"{cls.__name__}, {len(infos)} options")
    return classes


def _check_commands(report: CheckReport, spec: Any) -> None:
    """``styx run/train NAME --help``, as a user runs them: in a child process, which loads
    the plugin from its entry point (or, for one registered in code, through STYX_PLUGINS)."""
    module = plugin_module(spec.plugin)
    env = dict(os.environ)
    if module is not None:
        env["STYX_PLUGINS"] = f"{spec.plugin}={module}"
    for group in (group for group in ("run", "train") if group in spec.commands):
        with report.check(f"'styx {group}' command") as details:
            if module is None:
                details.append(f"not run: plugin {spec.plugin!r} is an object registered in "
                               "this process, which a 'styx' command cannot load")
                continue
            argv = [sys.executable, "-m", "styx", group, spec.name, "--help"]
            result = subprocess.run(argv, capture_output=True, text=True, env=env,
                                    timeout=120, check=False)
            assert result.returncode == 0, f"'styx {group} {spec.name} --help' exits " \
                f"{result.returncode}: {(result.stderr or result.stdout)[-300:]}"


# -- running -------------------------------------------------------------------------------
def _inputs(folder: Path) -> dict[str, Any]:
    """Small copies of the sample images (the painting, mirrored and in negative, in a
    folder of paintings), and a folder of content photos."""
    from PIL import Image, ImageOps

    from styx.files.image_arrays import sample_image

    content = Image.open(sample_image("content")).convert("RGB")
    style = Image.open(sample_image("style")).convert("RGB")
    paths = {"content": folder / "content.png", "photos": folder / "photos",
             "paintings": folder / "paintings"}
    content.resize((64, 48)).save(paths["content"])
    paths["paintings"].mkdir()
    style = style.resize((64, 64))
    for key, picture in (("style", style), ("style2", ImageOps.mirror(style)),
                         ("negative", ImageOps.invert(style))):
        paths[key] = paths["paintings"] / f"{key}.png"
        picture.save(paths[key])
    paths["photos"].mkdir()
    for i in range(3):
        content.crop((i * 20, 0, i * 20 + 200, 200)).resize((48, 48)).save(
            paths["photos"] / f"photo{i}.png")
    return {**paths, "folder": folder}


def _options(cls: type, quick: dict[str, Any], given: dict[str, Any],
             inputs: dict[str, Any] | None = None) -> dict[str, Any]:
    from styx.core.config import options_of

    infos = options_of(cls)
    fields = {info.field for info in infos}
    options = {key: value for key, value in quick.items() if key in fields}
    if inputs is not None:  # what a training config usually needs, by its usual names
        wanted = {"style": inputs["style"], "styles": [inputs["style"], inputs["style2"]],
                  "content_dir": inputs["photos"], "output": inputs["folder"] / "model",
                  "run_dir": inputs["folder"] / "run"}
        options.update({key: value for key, value in wanted.items() if key in fields})
        # a folder of paintings only where it must be given (elsewhere it adds styles)
        options.update({info.field: inputs["paintings"] for info in infos
                        if info.field == "style_dir" and info.required})
    options.update(given)
    return options


def _check_training(report: CheckReport, spec: Any, cls: type, inputs: dict[str, Any],
                    given: dict[str, Any]) -> Any:
    import styx

    trained = None
    with report.check("trains") as details:
        trained = styx.train(spec.name, **_options(cls, QUICK_TRAIN, given, inputs))
        assert trained.path is not None and Path(trained.path).is_dir(), \
            "train() saved no model folder"
        json.dumps(trained.summary())
        details.append(f"saved {trained.path.name}")
    if trained is None:
        return None
    model = None
    with report.check("the model loads"):
        model = styx.load_model(trained.path)
        assert model.method in (spec.name, *spec.aliases), \
            f"the saved model is of method {model.method!r}"
    return model


def _check_running(report: CheckReport, spec: Any, cls: type, inputs: dict[str, Any],
                   given: dict[str, Any], model: Any) -> None:
    import torch

    import styx
    from styx.core.method import RunResult

    options = _options(cls, QUICK_RUN, given)
    style_inputs = model.style_inputs if model is not None else []
    uses_styles = bool(style_inputs) if spec.feed_forward else spec.uses_styles
    styles = [inputs["style"]] * max(len(style_inputs), 1) if uses_styles else None

    def run() -> Any:
        return styx.stylize(spec.name, inputs["content"], styles, model=model, **options)

    first = None
    with report.check("runs") as details:
        first = run()
        assert isinstance(first, RunResult), \
            f"run returned {type(first).__name__}, not a RunResult"
        image = first.image
        assert isinstance(image, torch.Tensor) and image.dim() == 4 and \
            tuple(image.shape[:2]) == (1, 3), "the image is not a 1 x 3 x H x W tensor: " \
            f"{getattr(image, 'shape', type(image).__name__)}"
        assert image.is_floating_point() and torch.isfinite(image).all(), \
            "the image is not finite floats"
        assert float(image.min()) >= 0 and float(image.max()) <= 1, \
            f"the image leaves [0, 1] ({float(image.min()):.3g}..{float(image.max()):.3g})"
        json.dumps(first.summary())
        details.append(f"{image.shape[-1]}x{image.shape[-2]}")
    if report.failed("runs"):
        report.skip_rest(["same seed, same image"], "it did not run")
        return
    with report.check("same seed, same image"):
        assert torch.equal(run().image, first.image), "two runs with one seed differ"
    if style_inputs:
        _check_styles(report, model, inputs, options)


def _check_styles(report: CheckReport, model: Any, inputs: dict[str, Any],
                  options: dict[str, Any]) -> None:
    """The style images a model takes at run time mean something: the output moves when
    one is swapped for the painting's negative and, when no noise is declared, stays put
    when the seed changes (else a style input is filled with noise, whatever is given)."""
    from styx.core.inputs import NOISE, UNMOVED, of_kind

    paintings = {name: inputs["style"] for name in model.style_inputs}

    def out(seed: int = 0, **swapped: Any) -> Any:
        return model(inputs["content"], **{**options, "seed": seed, **paintings, **swapped})

    with report.check("follows its style images") as details:
        first, problems = out(), []
        if not of_kind(model.generator.declared_inputs(), NOISE):
            moved = float((out(seed=1) - first).abs().mean())
            if moved >= UNMOVED:
                problems.append(f"the output changes with the seed (mean change {moved:.1e}) "
                                "though the generator declares no noise: is a style input "
                                f"({', '.join(map(repr, paintings))}) filled with noise "
                                "whatever is given?")
        for name in paintings:
            moved = float((out(**{name: inputs["negative"]}) - first).abs().mean())
            if moved < UNMOVED:
                problems.append(f"the output does not change when the style image {name!r} "
                                f"changes (mean change {moved:.1e})")
            details.append(f"{name}: mean change {moved:.2g}")
        assert not problems, "; ".join(problems)


def _check_export(report: CheckReport, model: Any, folder: Path) -> None:
    """The trained model through the ONNX exporter, with its check against PyTorch."""
    from styx.core.plugins import exporters

    if "onnx" not in exporters():
        return
    from styx.exports import export_file

    with report.check("exports to ONNX") as details:
        _, result = export_file(model, "onnx", folder / "model.onnx", verify=True)
        details.append(str(result.get("check", "")))
