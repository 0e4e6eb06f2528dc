"""``styx export METHOD --onnx``: files that onnxruntime runs as PyTorch does."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import numpy as np
import onnx
import pytest
import torch

import styx
from styx.core.errors import StyxError
from styx.generators.models import load_model
from styx.inference.onnxfile import OnnxGenerator, read_metadata

METHODS = ["texture-nets", "stylebank"]


@pytest.fixture(scope="module")
def exported(models, tmp_path_factory):
    """Each model exported once in float32 (library call, no check)."""
    folder = tmp_path_factory.mktemp("onnx")
    return {name: styx.export(path, "onnx", folder / f"{name}.onnx")
            for name, path in models.items()}


def torch_output(model_folder, feed: dict[str, np.ndarray]) -> np.ndarray:
    network = load_model(model_folder).generator.eval()
    with torch.no_grad():
        out = network(**{k: torch.from_numpy(v) for k, v in feed.items()
                         if k in network.input_names})
    return out.numpy()


@pytest.mark.parametrize("method", METHODS)
def test_export_with_check_passes_and_the_checker_accepts_the_file(method, models, styx_cli,
                                                                   tmp_path):
    target = tmp_path / "out.onnx"
    result = styx_cli("export", method, "--onnx", "--model", str(models[method]), "-o",
                      str(target), "--check", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"] == str(target) and report["precision"] == "fp32"
    assert report["check"].startswith("passed: fp32 largest difference")
    assert len(report["check_cases"]) >= 3
    assert any("97x131" in case for case in report["check_cases"])  # an odd size
    onnx.checker.check_model(onnx.load(str(target)), full_check=True)


@pytest.mark.parametrize("name", ["texture-nets", "texture-nets-batch", "stylebank",
                                  "stylebank-zero"])
@pytest.mark.parametrize("batch,height,width", [(1, 64, 64), (3, 37, 53), (2, 97, 18),
                                                (1, 200, 131)])
def test_dynamic_batch_and_sizes_match_pytorch(name, batch, height, width, exported, models):
    generator = OnnxGenerator.open(exported[name], provider="cpu")
    images = np.random.default_rng(height).random((batch, 3, height, width),
                                                  dtype=np.float32)
    feed = generator.inputs_for(images, seed=4)
    out = generator.run(images, seed=4)
    assert out.shape == (batch, 3, height, width) and out.dtype == np.float32
    assert np.abs(out - torch_output(models[name], feed)).max() < 1e-4


def test_each_instance_norm_passes_over_its_map_four_times(exported, models):
    """An exported instance norm (statistics kept and given, for tiling) reads its map in
    two ReduceMeans, squares it once (the one full-size intermediate) and normalises it in
    one BatchNormalization: no Sub, Pow or Add of the whole map."""
    from styx.exports.onnx.quantize import _ranks, module_of
    from styx.generators.blocks import InstanceNorm

    network = load_model(models["texture-nets"]).generator
    norms = {name for name, module in network.named_modules()
             if isinstance(module, InstanceNorm)}
    proto = onnx.load(str(exported["texture-nets"]))
    ranks = _ranks(proto)
    passes: dict[str, Counter[str]] = {name: Counter() for name in norms}
    for node in proto.graph.node:
        full_size = any(ranks.get(name) == 4 for name in [*node.input[:1], *node.output])
        if module_of(node.name) in norms and full_size and not moves_nothing(node):
            passes[module_of(node.name)][node.op_type] += 1
    expected = Counter({"ReduceMean": 2, "Mul": 1, "BatchNormalization": 1})
    assert norms and all(counts == expected for counts in passes.values())


@pytest.mark.parametrize("name", ["texture-nets", "stylebank"])
def test_the_graph_is_small_no_constant_nodes_and_no_shape_arithmetic(name, exported, models):
    """Opening a session costs per node: an instance norm (kept and given statistics) is
    at most 25 nodes, none computing a shape; a reflect padding one Pad, a circular one six
    nodes; constants are initializers, each read by some node."""
    from styx.exports.onnx.quantize import module_of
    from styx.generators.blocks import InstanceNorm, Pad

    network = load_model(models[name]).generator
    modules = dict(network.named_modules())
    proto = onnx.load(str(exported[name]))
    ops = Counter(node.op_type for node in proto.graph.node)
    assert ops["Constant"] == 0
    assert not {"Shape", "Gather", "ConstantOfShape", "Unsqueeze"} & {
        node.op_type for node in proto.graph.node
        if isinstance(modules.get(module_of(node.name)), (InstanceNorm, Pad))}
    per_module = Counter(module_of(node.name) for node in proto.graph.node)
    norms = [module for module, layer in modules.items() if isinstance(layer, InstanceNorm)]
    assert norms and all(per_module[module] <= 25 for module in norms)
    for module, layer in modules.items():
        if isinstance(layer, Pad) and layer.amount:
            assert per_module[module] == (6 if layer.mode == "circular" else 1), module
    read = {name for node in proto.graph.node for name in node.input}
    assert all(init.name in read for init in proto.graph.initializer)
    session_inputs = {item.name for item in proto.graph.input}
    assert {"norm_statistics", "norm_blend"} <= session_inputs
    assert [output.name for output in proto.graph.output] == ["output", "kept_statistics"]


def test_constants_become_initializers_one_per_value():
    from styx.exports.onnx.graph import constants_to_initializers

    helper = onnx.helper
    two = helper.make_tensor("", onnx.TensorProto.FLOAT, [1], [2.0])
    nodes = [helper.make_node("Constant", [], ["a"], value=two, name="c1"),
             helper.make_node("Constant", [], ["b"], value=two, name="c2"),
             helper.make_node("Constant", [], ["c"], value_ints=[1, 2], name="c3"),
             helper.make_node("Mul", ["x", "a"], ["y"], name="/generator/mul"),
             helper.make_node("Add", ["y", "b"], ["z"], name="/generator/add")]
    unused = onnx.numpy_helper.from_array(np.ones(3, np.float32), "unused")
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("z", onnx.TensorProto.FLOAT, [1])], [unused])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              ir_version=8)
    constants_to_initializers(proto)
    onnx.checker.check_model(proto, full_check=True)
    assert [node.name for node in proto.graph.node] == ["/generator/mul", "/generator/add"]
    assert [node.input[1] for node in proto.graph.node] == ["a", "a"]
    assert [init.name for init in proto.graph.initializer] == ["a"]
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.run(None, {"x": np.full(1, 3.0, np.float32)})[0].tolist() == [8.0]


def moves_nothing(node: onnx.NodeProto) -> bool:
    """Whether onnxruntime passes over no values for ``node`` of a float32 graph: a reshape
    is a view, a cast to float32 (of float32) is dropped."""
    to = next((a.i for a in node.attribute if a.name == "to"), None)
    return node.op_type in ("Reshape", "Shape") or \
        (node.op_type == "Cast" and to == onnx.TensorProto.FLOAT)


def test_given_statistics_blend_and_kept_statistics_match_pytorch(exported, models):
    """The tiling inputs at an odd size and a batch of two: the statistics given, blended
    half with the map's own, and the statistics kept, as PyTorch computes them."""
    from styx.exports.onnx.graph import GraphModule

    generator = OnnxGenerator.open(exported["texture-nets"], provider="cpu")
    images = np.random.default_rng(5).random((2, 3, 45, 67), dtype=np.float32)
    given = generator.statistics_of(images[::-1].copy(), seed=1)
    feed = {**generator.inputs_for(images, seed=1), "norm_statistics": given,
            "norm_blend": np.full(1, 0.5, np.float32)}
    out, kept = generator.session.run(None, feed)
    network = load_model(models["texture-nets"]).generator.eval()
    graph = GraphModule(network, network.input_names)
    with torch.no_grad():
        expected = graph(*[torch.from_numpy(feed[name]) for name in
                           [*network.input_names, "norm_statistics", "norm_blend"]])
    assert np.abs(out - expected[0].numpy()).max() < 1e-4
    assert np.allclose(kept, expected[1].numpy(), rtol=1e-4, atol=1e-6)
    assert not np.allclose(kept[0], given[0], rtol=1e-2)  # its own, not the given ones


def test_the_smallest_size_is_found_and_enforced(exported, models):
    reflect = OnnxGenerator.open(exported["stylebank"], provider="cpu")
    zero = OnnxGenerator.open(exported["stylebank-zero"], provider="cpu")
    # reflect padding of the 9x9 input convolution needs 5 pixels; zero padding needs none
    assert reflect.smallest_size == 5 and zero.smallest_size == 1
    tiny = np.random.default_rng(0).random((1, 3, 5, 7), dtype=np.float32)
    weights = reflect.style_weights("scream")
    out = reflect.run(tiny, style_weights=weights)
    feed = reflect.inputs_for(tiny, seed=0, style_weights=weights)
    assert np.abs(out - torch_output(models["stylebank"], feed)).max() < 1e-4
    with pytest.raises(StyxError, match="smaller than this file's smallest size, 5 px"):
        reflect.run(tiny[..., :4, :])


def test_stylebank_styles_and_fusion_in_onnx_equal_pytorch(exported, models):
    from styx.plugins.methods.stylebank.choice import style_weights
    from styx.plugins.methods.stylebank.config import StyleBankRunConfig

    generator = OnnxGenerator.open(exported["stylebank"], provider="cpu")
    model = load_model(models["stylebank"])
    images = np.random.default_rng(1).random((1, 3, 40, 56), dtype=np.float32)
    outputs = []
    for choice in [{"style": "scream"}, {"style": 2}, {"style_mix": "starry:3,hat:1"},
                   {"style": "starry", "strength": 0.4}]:
        mix = StyleBankRunConfig.from_options(choice).style_mix
        weights = generator.style_weights(choice.get("style"), mix, choice.get("strength", 1))
        expected = style_weights(model, StyleBankRunConfig.from_options(choice), (40, 56))
        assert np.allclose(weights, expected.numpy())  # the same choice, the same weights
        out = generator.run(images, style_weights=weights)
        with torch.no_grad():
            reference = model.generator(torch.from_numpy(images), expected).numpy()
        assert np.abs(out - reference).max() < 1e-4
        outputs.append(out)
    assert np.abs(outputs[0] - outputs[1]).mean() > 1e-3  # the styles really differ
    # one file serves the reconstruction too: weights summing to 0 are the auto-encoder
    with torch.no_grad():
        reconstruction = model.generator(torch.from_numpy(images)).numpy()
    zero = generator.run(images, style_weights=np.zeros(3, np.float32))
    assert np.abs(zero - reconstruction).max() < 1e-4


def test_texture_nets_noise_is_an_input_so_a_seed_repeats_the_picture(exported):
    generator = OnnxGenerator.open(exported["texture-nets"], provider="cpu")
    assert generator.metadata["inputs"]["noise"]["fill"] == "uniform"
    images = np.random.default_rng(2).random((1, 3, 48, 48), dtype=np.float32)
    first, again = generator.run(images, seed=7), generator.run(images, seed=7)
    other = generator.run(images, seed=8)
    assert np.array_equal(first, again)
    assert np.abs(first - other).max() > 1e-4


def test_metadata_round_trips_and_models_show_reads_it(exported, styx_cli):
    metadata = read_metadata(exported["stylebank"])
    assert metadata["method"] == "stylebank" and metadata["styles"] == ["starry", "scream",
                                                                        "hat"]
    assert metadata["styx_version"] == styx.__version__ and metadata["precision"] == "fp32"
    assert metadata["fast_on"].startswith("any CPU")
    assert metadata["inputs"]["image"]["shape"] == ["batch", 3, "height", "width"]
    assert metadata["inputs"]["style_weights"]["shape"] == [3]
    assert metadata["architecture"]["num_styles"] == 3
    shown = styx_cli("models", "show", str(exported["stylebank"]))
    assert shown.exit_code == 0, shown.stderr
    assert "stylebank generator, fp32" in shown.stdout and "1 scream" in shown.stdout
    as_json = json.loads(styx_cli("models", "show", str(exported["stylebank"]),
                                  "--json").stdout)
    assert as_json["metadata"] == metadata


def test_fp16_files_pass_their_check(models, styx_cli, tmp_path):
    result = styx_cli("export", "stylebank", "--onnx", "--fp16", "--check", "--json",
                      "--model", str(models["stylebank"]), "-o", str(tmp_path / "half.onnx"))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["precision"] == "fp16" and report["check"].startswith("passed")
    weights = [init for init in onnx.load(str(tmp_path / "half.onnx")).graph.initializer
               if len(init.dims) == 4]
    assert weights and all(w.data_type == onnx.TensorProto.FLOAT16 for w in weights)
    generator = OnnxGenerator.open(tmp_path / "half.onnx", provider="cpu")
    assert generator.session.get_inputs()[0].type == "tensor(float)"  # float32 in and out


def test_int8_is_calibrated_and_printed_within_the_psnr_bound(models, photos, styx_cli,
                                                             tmp_path):
    calibrate = tmp_path / "calibrate"
    shutil.copytree(photos, calibrate)
    (calibrate / "broken.jpg").write_bytes(b"not a photo")  # skipped, as training skips it
    result = styx_cli("export", "texture-nets", "--onnx", "--quantize", "int8",
                      "--calibrate", str(calibrate), "--calibrate-size", "64", "--check",
                      "--model", str(models["texture-nets"]), "-o", str(tmp_path / "q.onnx"))
    assert result.exit_code == 0, result.stderr
    assert "int8 PSNR" in result.stderr and "dB against float32" in result.stderr
    psnr = float(result.stderr.split("int8 PSNR ")[1].split(" dB")[0])
    assert psnr >= 30
    assert "fast_on: x86-64 CPUs with AVX-512 VNNI" in result.stderr
    quantized = onnx.load(str(tmp_path / "q.onnx"))
    ops = {node.op_type for node in quantized.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    # the heavy convolutions are found by their node names, and only they are quantised
    from styx.exports.onnx.quantize import heavy_convolutions, module_of

    generator = load_model(models["texture-nets"]).generator
    heavy = heavy_convolutions(generator, 64)
    weights = {init.name for init in quantized.graph.initializer}
    quantized_convs = {module_of(node.name) for node in quantized.graph.node
                       if node.op_type == "Conv" and node.input[1] not in weights}
    assert heavy and quantized_convs and quantized_convs <= heavy


def test_int8_activations_are_unsigned_and_the_file_says_where_it_is_fast(models, photos,
                                                                         styx_cli, tmp_path,
                                                                         monkeypatch):
    from styx.exports.onnx.check import psnr
    from styx.files.image_arrays import sample_image
    from styx.inference.batch import load_photo

    target = tmp_path / "q.onnx"
    result = styx_cli("export", "stylebank", "--onnx", "--quantize", "int8", "--calibrate",
                      str(photos), "--calibrate-size", "64", "--json", "--model",
                      str(models["stylebank"]), "-o", str(target))
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["precision"] == "int8" and "VNNI" in report["fast_on"]
    proto = onnx.load(str(target))
    weights = {init.name: init for init in proto.graph.initializer}
    zero_points = [weights[node.input[2]] for node in proto.graph.node
                   if node.op_type == "QuantizeLinear"]
    # uint8 activations with a zero point: onnxruntime's fast x86 int8 kernels (U8S8)
    assert zero_points and all(z.data_type == onnx.TensorProto.UINT8 for z in zero_points)
    photo = load_photo(sample_image("content"), None)[0]
    float_file = styx.export(models["stylebank"], "onnx", tmp_path / "f.onnx")
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    float_session = OnnxGenerator.open(float_file, provider="cpu", keep_graph=True)
    reference = float_session.run(photo)
    session = OnnxGenerator.open(target, provider="cpu", keep_graph=True)
    quantized = session.run(photo)
    # onnxruntime's graph: no Transposes around the int8 convolutions (no more than the
    # float graph has), and one DequantizeLinear after each, however many nodes read it
    optimised, float_optimised = (Counter(node.op_type for node in onnx.load_from_string(
        generator.graph).graph.node) for generator in (session, float_session))
    assert optimised["QLinearConv"] and optimised["Transpose"] == float_optimised["Transpose"]
    assert optimised["DequantizeLinear"] == optimised["QLinearConv"]
    assert psnr(reference, quantized) >= 30
    shown = styx_cli("models", "show", str(target))
    assert shown.exit_code == 0, shown.stderr
    assert "fast on: x86-64 CPUs with AVX-512 VNNI" in shown.stdout.replace("\n", " ")


def test_int8_takes_on_the_heaviest_convolutions_only():
    from styx.exports.onnx.quantize import heavy_convolutions
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    chosen = heavy_convolutions(TextureNetwork(), 128)
    # the 3x3 convolutions of the joins at full and half resolution, no coarse scale's
    assert {"joins.4.1", "joins.4.5"} <= chosen
    assert all(name.startswith(("joins.4.", "joins.3.", "branches.0.")) for name in chosen)
    assert len(heavy_convolutions(TextureNetwork(), 128, share=1.0)) == 34


def test_a_failed_check_exits_non_zero_and_writes_nothing(models, styx_cli, tmp_path,
                                                          monkeypatch):
    from styx.exports.onnx import config

    monkeypatch.setitem(config.MAX_DIFFERENCE, "fp32", 0.0)
    target = tmp_path / "strict.onnx"
    result = styx_cli("export", "texture-nets", "--onnx", "--check", "--model",
                      str(models["texture-nets"]), "-o", str(target))
    assert result.exit_code == 2
    assert "--check failed: fp32 largest difference" in result.stderr
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_option_mistakes_are_one_line_errors(models, styx_cli, tmp_path):
    base = ("export", "texture-nets", "--onnx", "--model", str(models["texture-nets"]), "-o",
            str(tmp_path / "x.onnx"))
    cases = {("--quantize", "int8"): "--quantize int8 needs --calibrate DIR",
             ("--fp16", "--quantize", "int8", "--calibrate", str(tmp_path)):
                 "give --fp16 or --quantize int8, not both",
             ("--opset", "9"): "--opset",
             ("--quantize", "int4"): "--quantize"}
    for extra, message in cases.items():
        result = styx_cli(*base, *extra)
        assert result.exit_code == 2, (extra, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_gatys_cannot_be_exported_and_the_error_names_the_methods_that_can(styx_cli):
    result = styx_cli("export", "gatys", "--onnx")
    assert result.exit_code == 2
    assert "trains no generator" in result.stderr
    assert "stylebank" in result.stderr and "texture-nets" in result.stderr


@pytest.mark.parametrize("opset", [13, 18])
def test_other_opsets(opset, models, tmp_path):
    path = styx.export(models["texture-nets"], "onnx", tmp_path / "o.onnx", opset=opset)
    assert onnx.load(str(path)).opset_import[0].version == opset
    generator = OnnxGenerator.open(path, provider="cpu")
    images = np.random.default_rng(0).random((1, 3, 33, 47), dtype=np.float32)
    feed = generator.inputs_for(images, seed=0)
    assert np.abs(generator.run(images) - torch_output(models["texture-nets"], feed)).max() \
        < 1e-4


def test_a_third_party_generator_exports_through_the_core_interface(use_plugins, tmp_path):
    """A plugin's own generator with an input of its own (a per-image brightness), which
    styx's exporter has never seen."""
    from styx.core.specs import MethodSpec
    from styx.exports import onnx as onnx_exporter
    from styx.files.modelstore import save_model
    from styx.generators.generator import Generator
    from styx.plugins.methods import texture_nets

    class Brightener(Generator):
        input_names = ("image", "gain")

        def __init__(self, width: int = 4) -> None:
            super().__init__()
            self.width = width
            self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

        def architecture(self):
            return {"width": self.width}

        @classmethod
        def from_architecture(cls, architecture):
            return cls(**architecture)

        def make_inputs(self, image, *, size=None, batch=1, generator=None, **options):
            return {"image": image, "gain": torch.full((1,), 0.5)}

        def forward(self, image, gain):
            return torch.sigmoid(self.conv(image) * gain)

    class Plugin:
        @styx.hookimpl
        def register_methods(self, register):
            register(MethodSpec(name="brighten", summary="A test method.",
                                config="styx.core.bundles:ModelRunOptions",
                                run="styx.generators.models:run_feed_forward",
                                generator=Brightener))

    use_plugins({"brighten": Plugin(), "onnx": onnx_exporter, "tn": texture_nets})
    network = Brightener()
    folder = save_model(network, {"method": "brighten", "architecture": {"width": 4}},
                        path=tmp_path / "model")
    with pytest.warns(DeprecationWarning, match="declare Generator.inputs"):  # styx 0.1's way
        path = styx.export(folder, "onnx", tmp_path / "b.onnx")
    generator = OnnxGenerator.open(path, provider="cpu")
    assert generator.metadata["inputs"]["gain"] == {"kind": "setting", "shape": [1],
                                                    "fill": "default", "default": [0.5]}
    images = np.random.default_rng(0).random((2, 3, 9, 11), dtype=np.float32)
    with torch.no_grad():
        expected = network(torch.from_numpy(images), torch.full((1,), 0.25)).numpy()
    out = generator.run(images, gain=np.array([0.25], np.float32))
    assert np.abs(out - expected).max() < 1e-5
