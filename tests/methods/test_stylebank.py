"""StyleBank: the network, the T+1 training on the shared loop, growing a model by new
styles, fusion, and the train/run commands.

Everything runs on tiny images (24-64 px) with a narrow network and a randomly initialised
VGG16 trimmed to its first layers, so no weights are downloaded and the file stays fast.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tiny
import torch
from child_styx import torchrun_styx
from pattern_images import write_image
from PIL import Image

import styx
from styx.core.errors import StyxError
from styx.generators.blocks import halved_sizes
from styx.generators.models import load_model
from styx.plugins.methods.stylebank.config import NetworkConfig, StyleBankTrainConfig
from styx.plugins.methods.stylebank.network import StyleBankNetwork
from styx.plugins.methods.stylebank.task import StyleBankTask
from styx.training.feedforward import train_generator

#: Library options of a tiny run: width 4, random VGG16 trimmed to relu2_1, 32 px crops.
TINY = {**tiny.TRAINING, "width": 4, "content_layers": "relu2_1",
        "style_layers": "relu1_2,relu2_1", "style_weight": 1e6, "iterations": 6,
        "batch_size": 2, "checkpoint_every": 3}
#: The same on the command line.
TINY_TRAIN = ["--width", "4", "--weights", "random", "--content-layers", "relu2_1",
              "--style-layers", "relu1_2,relu2_1", "--image-size", "32", "--batch-size", "2",
              "--quiet"]


@pytest.fixture
def data(tmp_path, monkeypatch):
    """Three style images, a content folder and a mask; STYX_HOME isolated."""
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    content = tmp_path / "content"
    write_image(content / "a.png", 40, 48, seed=1)
    write_image(content / "nested" / "b.jpg", 36, 60, seed=2)
    write_image(content / "c.png", 34, 34, seed=3)
    styles = [write_image(tmp_path / f"{name}.png", 40, 40, seed=seed)
              for name, seed in (("starry", 7), ("scream", 8), ("wave", 9))]
    mask = np.zeros((20, 30), np.uint8)
    mask[:10] = 255
    Image.fromarray(mask).save(tmp_path / "sky.png")
    return {"styles": styles, "content": content, "root": tmp_path,
            "mask": tmp_path / "sky.png"}


def train_tiny(data, styles=2, **options):
    values = {**TINY, "style": data["styles"][:styles], "content_dir": data["content"],
              **options}
    return styx.train("stylebank", **values)


def tiny_config(data, styles=2, **options) -> StyleBankTrainConfig:
    return StyleBankTrainConfig(**{**TINY, "style": data["styles"][:styles],
                                   "content_dir": data["content"], **options})


def network(num_styles=3, width=4, **options) -> StyleBankNetwork:
    torch.manual_seed(0)
    return StyleBankNetwork(NetworkConfig(num_styles=num_styles, width=width, **options)).eval()


# -- the network -------------------------------------------------------------------------------
@pytest.mark.parametrize("padding", ["circular", "reflect", "replicate", "zero"])
@pytest.mark.parametrize("size", [(37, 53), (1, 9), (2, 3), (64, 64), (33, 17)])
def test_any_size_comes_back_exactly_with_every_padding(padding, size):
    net = network(padding=padding)
    with torch.no_grad():
        out = net(torch.rand(2, 3, *size), torch.tensor([0.0, 1.0, 0.0]))
    assert out.shape == (2, 3, *size)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_the_encoder_is_three_convolutions_strides_1_2_2_and_the_decoder_upsamples():
    net = network()
    convs = [m for m in net.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((9, 9), (1, 1)), ((3, 3), (2, 2)),
                                                          ((3, 3), (2, 2))]
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in net.modules())
    assert [tuple(b.shape) for b in net.banks] == [(16, 16, 3, 3)] * 3
    assert halved_sizes(37, 53, 3) == [(37, 53), (19, 27), (10, 14)]
    features = net.encode(torch.rand(1, 3, 37, 53))
    assert features.shape == (1, 16, 10, 14)


def test_a_batch_mixing_styles_equals_each_image_on_its_own():
    net = network()
    images = torch.rand(4, 3, 29, 35)
    ids = torch.tensor([2, 0, 1, 2])
    with torch.no_grad():
        batch = net(images, net.one_hot(ids))
        alone = torch.cat([net(images[i:i + 1], net.one_hot(ids[i])) for i in range(4)])
    torch.testing.assert_close(batch, alone, rtol=1e-5, atol=1e-5)


def test_a_mix_of_one_style_and_a_full_mask_equal_that_style_exactly():
    net = network()
    image = torch.rand(1, 3, 30, 42)
    with torch.no_grad():
        one = net(image, torch.tensor([0.0, 1.0, 0.0]))
        full_mask = torch.zeros(1, 3, 30, 42)
        full_mask[:, 1] = 1.0
        region = net(image, full_mask)
        other_size_mask = torch.zeros(1, 3, 7, 5)
        other_size_mask[:, 1] = 1.0
        assert torch.equal(net(image, other_size_mask), one)
    assert torch.equal(region, one)
    assert not torch.allclose(one, net(image, torch.tensor([1.0, 0.0, 0.0])), atol=1e-4)


@pytest.mark.parametrize(("variant", "width"), [("paper", 4), ("fast", 8)])
def test_linear_fusion_is_the_weighted_sum_of_the_banks_in_feature_space(variant, width):
    net = network(width=width, variant=variant)
    image = torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        features = net.encode(image)
        mixed = net.apply_banks(features, torch.tensor([0.7, 0.3, 0.0]))
        a = net.apply_banks(features, torch.tensor([1.0, 0.0, 0.0]))
        b = net.apply_banks(features, torch.tensor([0.0, 1.0, 0.0]))
    torch.testing.assert_close(mixed, 0.7 * a + 0.3 * b, rtol=1e-5, atol=1e-5)


def test_weights_that_sum_to_zero_or_none_are_the_auto_encoder():
    net = network()
    image = torch.rand(2, 3, 20, 28)
    with torch.no_grad():
        reconstruction = net(image)
        torch.testing.assert_close(net(image, torch.zeros(3)), reconstruction)
        torch.testing.assert_close(net(image, torch.zeros(2, 3, 20, 28)), reconstruction)


def test_a_half_mask_stylises_its_half_and_reconstructs_the_rest():
    """Features (quarter resolution) under the mask get the bank; the rest goes through
    unchanged, so far from the mask's edge the output equals the style or the
    reconstruction. (With batch norm in eval mode every layer is local; instance norm's
    statistics would mix the two halves everywhere.)"""
    net = network(norm="batch")
    image = torch.rand(1, 3, 64, 64)
    mask = torch.zeros(1, 3, 64, 64)
    mask[:, 2, :32] = 1.0
    with torch.no_grad():
        regions = net(image, mask)
        styled = net(image, torch.tensor([0.0, 0.0, 1.0]))
        plain = net(image)
    top, bottom = slice(0, 12), slice(52, 64)  # 20 px (5 feature pixels) from the edge
    torch.testing.assert_close(regions[..., top, :], styled[..., top, :], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(regions[..., bottom, :], plain[..., bottom, :], rtol=1e-4,
                               atol=1e-4)


def test_bad_style_weights_are_refused():
    net = network()
    image = torch.rand(1, 3, 16, 16)
    for weights in (torch.ones(2), torch.ones(1, 2), torch.ones(1, 2, 4, 4), torch.ones(()),
                    torch.ones(3, 3)):
        with pytest.raises(StyxError, match="style weights|rows"):
            net(image, weights)


def test_the_architecture_rebuilds_the_network_and_default_inputs_choose_style_0():
    net = network(num_styles=2)
    rebuilt = StyleBankNetwork.from_architecture(json.loads(json.dumps(net.architecture())))
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == \
        {k: v.shape for k, v in net.state_dict().items()}
    inputs = net.example_inputs(batch=2, height=24, width=20)
    assert set(inputs) == {"image", "style_weights"}
    assert torch.equal(inputs["style_weights"], torch.tensor([1.0, 0.0]))
    assert set(net.make_inputs(torch.rand(1, 3, 8, 8), reconstruct=True)) == {"image"}
    with pytest.raises(StyxError, match="newer styx"):
        StyleBankNetwork.from_architecture({**net.architecture(), "wings": 2})


# -- training ----------------------------------------------------------------------------------
def _train_recording(data, **options):
    """Train with a hook that records, before every update, each bank and what the step
    was: returns (result, records), where records[step] = (banks, drawn, reconstruction)."""
    config = tiny_config(data, **options)
    task = StyleBankTask(config)
    records = {}

    def hook(model, step, terms):
        task.balance_gradients(model, step, terms)
        records[step] = ([b.detach().clone() for b in model.banks], set(task._drawn),
                         task.is_reconstruction_step(step),
                         [p.grad is None for p in model.banks])
    trained = train_generator(task, config, content_dir=config.content_dir, hook=hook)
    return trained, records


def test_auto_encoder_steps_leave_every_bank_and_style_steps_only_the_drawn_ones(data):
    trained, records = _train_recording(data, styles=3, iterations=7, batch_size=1,
                                        output=data["root"] / "m", lr=1e-2)
    final = [b.detach() for b in trained.generator.banks]
    reconstruction_steps = [s for s, r in records.items() if r[2]]
    assert reconstruction_steps == [2, 5]  # T = 2: every third step
    for step, (before, drawn, reconstruction, no_grad) in records.items():
        after = records[step + 1][0] if step + 1 in records else final
        for index in range(3):
            same = torch.equal(before[index], after[index])
            if reconstruction or index not in drawn:
                assert same and no_grad[index], (step, index)
            else:
                assert not same, (step, index)
    assert any(len(r[1]) < 3 for r in records.values() if not r[2])  # some bank skipped


def test_the_auto_encoder_gradient_is_balanced_against_the_last_stylising_step(data):
    """Algorithm 1: the auto-encoder step's encoder+decoder gradient is rescaled to
    lambda x the norm of the stylising step before it."""
    from styx.plugins.methods.stylebank import task as task_module

    config = tiny_config(data, iterations=3, balance=0.25, output=data["root"] / "m")
    task = StyleBankTask(config)
    norms = {}

    def hook(model, step, terms):
        task.balance_gradients(model, step, terms)
        norms[step] = task_module._gradient_norm(model.core_parameters())
    train_generator(task, config, content_dir=config.content_dir, hook=hook)
    assert norms[2] == pytest.approx(0.25 * norms[1], rel=1e-5)
    assert norms[0] != pytest.approx(norms[1], rel=1e-3)


def test_short_training_lowers_both_losses(data):
    trained = train_tiny(data, iterations=60, lr=5e-3, output=data["root"] / "m",
                         checkpoint_every=0)
    history = trained.result.history
    styled = [h["total"] for h in history if h["step"] % 3 != 0]  # stylising steps
    reconstruction = [h["reconstruction"] for h in history if h["step"] % 3 == 0]
    assert np.mean(styled[-4:]) < 0.7 * np.mean(styled[:4]), styled
    assert np.mean(reconstruction[-3:]) < 0.7 * np.mean(reconstruction[:3]), reconstruction
    final = trained.metadata["training"]["final_losses"]
    assert {"content", "style", "tv", "reconstruction"} <= set(final)


def test_resume_after_an_interruption_is_exact(data, interrupted_at):
    """Interrupted before an auto-encoder step, whose balancing needs the norm of the step
    before: the task's state travels in the checkpoint, and the run resumes bit for bit."""
    config = {"iterations": 8, "checkpoint_every": 2}
    straight = train_tiny(data, output=data["root"] / "straight", **config,
                          run_dir=data["root"] / "run-straight")
    run_dir = data["root"] / "run-resumed"
    with interrupted_at(StyleBankTask, 5), pytest.raises(KeyboardInterrupt):
        train_tiny(data, output=data["root"] / "resumed", **config, run_dir=run_dir)
    resumed = train_tiny(data, output=data["root"] / "resumed", **config, run_dir=run_dir,
                         resume=True)
    assert [h["step"] for h in resumed.result.history] == list(range(1, 9))
    assert [h["total"] for h in resumed.result.history] == \
        [h["total"] for h in straight.result.history]
    for key, value in straight.generator.state_dict().items():
        assert torch.equal(resumed.generator.state_dict()[key], value), key


def test_a_style_folder_trains_one_bank_per_image_with_unique_names(data):
    folder = data["root"] / "styles"
    write_image(folder / "a" / "starry.png", 30, 30, seed=4)
    write_image(folder / "b" / "starry.jpg", 30, 30, seed=5)
    write_image(folder / "c.png", 30, 30, seed=6)
    trained = train_tiny(data, styles=1, style_dir=folder, iterations=2)
    model = styx.load_model(trained.path)
    assert model.styles == ["starry", "starry-2", "starry-3", "c"]
    assert trained.name == "stylebank-starry+3"
    assert [s["file"] for s in model.metadata["styles"]] == \
        ["starry.png", "starry.png", "starry.jpg", "c.png"]
    assert model.generator.num_styles == 4


# -- growing a model -----------------------------------------------------------------------
def test_adding_a_style_trains_only_its_bank_and_writes_only_a_small_part(data):
    train_tiny(data, name="bank", iterations=3)
    folder = data["root"] / "home" / "models" / "bank"
    before = load_model("bank")
    weights_before = (folder / "model.safetensors").read_bytes()
    photo = torch.rand(1, 3, 28, 36)
    old_outputs = [before(photo, style=i) for i in range(2)]

    trained = train_tiny(data, styles=0, from_model="bank", add_style=[data["styles"][2]],
                         iterations=4, lr=1e-2)
    assert trained.path == folder
    after = load_model("bank")
    assert after.styles == ["starry", "scream", "wave"]
    assert (folder / "model.safetensors").read_bytes() == weights_before
    parts = list((folder / "parts").iterdir())
    assert [p.name for p in parts] == ["styles-2-2.safetensors"]
    assert parts[0].stat().st_size < 0.5 * len(weights_before)
    old_state, new_state = before.generator.state_dict(), after.generator.state_dict()
    for key, value in old_state.items():
        assert torch.equal(new_state[key], value), key
    assert not torch.allclose(new_state["banks.2"], StyleBankNetwork(
        NetworkConfig(width=4)).banks[0], atol=1e-4)  # the new bank trained
    for index, old in enumerate(old_outputs):
        assert torch.equal(after(photo, style=index), old)
    assert after.metadata["styles"][2]["added"]["training"]["iterations"] == 4
    assert "added" not in after.metadata["styles"][0]


def test_adding_styles_with_batch_norm_keeps_its_statistics(data):
    train_tiny(data, name="bn", iterations=2, norm="batch")
    before = load_model("bn").generator.state_dict()
    train_tiny(data, styles=0, from_model="bn", add_style=[data["styles"][2]], iterations=2)
    after = load_model("bn").generator.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), key


def test_adding_styles_under_a_new_name_keeps_the_old_model(data):
    train_tiny(data, name="bank", iterations=2)
    train_tiny(data, styles=0, from_model="bank", add_style=[data["styles"][2]],
               name="bigger", iterations=2)
    assert load_model("bank").styles == ["starry", "scream"]
    assert load_model("bigger").styles == ["starry", "scream", "wave"]
    assert not (data["root"] / "home" / "models" / "bigger" / "parts").exists()


def test_a_model_changed_while_styles_were_added_is_left_alone(data, monkeypatch):
    from styx.plugins.methods.stylebank import api

    train_tiny(data, name="bank", iterations=2)
    folder = data["root"] / "home" / "models" / "bank"
    original = api._add_to

    def touched(folder_, task):
        save = original(folder_, task)

        def save_after_a_change(generator, metadata):
            meta = json.loads((folder / "model.json").read_text())
            (folder / "model.json").write_text(json.dumps({**meta, "note": "changed"}))
            return save(generator, metadata)
        return save_after_a_change
    monkeypatch.setattr(api, "_add_to", touched)
    with pytest.raises(StyxError, match="changed while"):
        train_tiny(data, styles=0, from_model="bank", add_style=[data["styles"][2]],
                   iterations=1)
    assert not (folder / "parts").exists()
    assert load_model("bank").styles == ["starry", "scream"]


def test_a_part_outside_the_parts_folder_is_refused(data):
    train_tiny(data, name="bank", iterations=1)
    folder = data["root"] / "home" / "models" / "bank"
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps({**meta, "parts": ["../../secret.safetensors"]}))
    with pytest.raises(StyxError, match="bad parts"):
        load_model("bank")
    (folder / "model.json").write_text(json.dumps({**meta, "parts": ["parts/x.safetensors"]}))
    with pytest.raises(StyxError, match="no parts/x.safetensors"):
        load_model("bank")
    assert styx.list_models()[0].error == "no parts/x.safetensors"


# -- running -----------------------------------------------------------------------------------
@pytest.fixture
def bank(data):
    """A trained 3-style model named "bank"."""
    train_tiny(data, styles=3, name="bank", iterations=3)
    return load_model("bank")


def test_the_library_offers_every_choice(bank, data):
    photo = torch.rand(1, 3, 30, 40)
    by_name = bank(photo, style="scream")
    assert torch.equal(bank(photo, style=1), by_name)
    assert torch.equal(bank(photo, style="SCREAM"), by_name)
    assert torch.equal(bank(photo, style_mix={"scream": 2.0}), by_name)
    half = bank(photo, style_mix="starry:1,scream:1")
    direct = bank.generator(photo, torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(half, direct, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bank(photo, reconstruct=True), bank.generator(photo),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bank(photo, style="wave", strength=0.0),
                               bank(photo, reconstruct=True), rtol=1e-4, atol=1e-5)
    full = torch.ones(30, 40)
    torch.testing.assert_close(bank(photo, region=[(full, "wave")]), bank(photo, style="wave"),
                               rtol=1e-5, atol=1e-6)
    pil = bank(Image.new("RGB", (40, 30), "white"), style=0)
    assert isinstance(pil, Image.Image) and pil.size == (40, 30)


def test_overlapping_regions_blend_and_uncovered_parts_are_reconstructed(bank):
    from styx.plugins.methods.stylebank.choice import region_weights

    top = torch.zeros(8, 8)
    top[:4] = 1.0
    everywhere = torch.ones(8, 8)
    weights = region_weights(bank, [(top, "starry"), (everywhere, "scream"),
                                    (top, "starry")], (8, 8))
    assert weights.shape == (1, 3, 8, 8)
    torch.testing.assert_close(weights[0, :, 0, 0], torch.tensor([0.5, 0.5, 0.0]))
    torch.testing.assert_close(weights[0, :, 7, 0], torch.tensor([0.0, 1.0, 0.0]))
    none = region_weights(bank, [(top, "wave")], (8, 8))
    assert float(none[0, :, 7, 7].sum()) == 0.0  # the rest: the reconstruction


def test_a_mask_of_another_size_is_stretched_to_the_photo(bank, data, tmp_path):
    from styx.runtime.masks import load_mask

    mask = load_mask(data["mask"], (40, 60))
    assert mask.shape == (1, 1, 40, 60)
    assert float(mask[0, 0, :18].min()) > 0.99 and float(mask[0, 0, 22:].max()) < 0.01
    cut_out = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    cut_out.paste((0, 0, 0, 255), (0, 0, 10, 5))
    alpha = load_mask(cut_out, (10, 10))
    assert float(alpha[0, 0, :4].min()) > 0.99 and float(alpha[0, 0, 6:].max()) < 0.01


def test_run_writes_each_choice_and_models_show_lists_the_styles(bank, data, styx_cli):
    photo, root = data["content"] / "a.png", data["root"]
    cases = {"one": ["--style", "wave"], "index": ["--style", "2"],
             "mix": ["--style-mix", "starry:0.7,scream:0.3"],
             "regions": ["--region", f"{data['mask']}:starry", "--region",
                         f"{data['mask']}:1"],
             "plain": ["--reconstruct"]}
    for name, args in cases.items():
        result = styx_cli("run", "stylebank", "--model", "bank", str(photo), "-o",
                          str(root / f"{name}.png"), *args)
        assert result.exit_code == 0, (name, result.stderr)
        with Image.open(root / f"{name}.png") as image:
            assert image.size == (48, 40)
    one, index = (np.asarray(Image.open(root / f"{n}.png")) for n in ("one", "index"))
    assert np.array_equal(one, index)
    shown = styx_cli("models", "show", "bank")
    assert shown.exit_code == 0
    digest = bank.metadata["styles"][2]["sha256"]
    assert f"2  wave  sha256 {digest[:16]}  32x32" in shown.stdout
    listed = styx_cli("models", "list")
    assert "starry, scream, wave" in listed.stdout


def test_run_errors_are_one_line_and_write_nothing(bank, data, styx_cli):
    photo, out = data["content"] / "a.png", data["root"] / "out.png"
    not_an_image = data["root"] / "notes.png"
    not_an_image.write_text("not an image")
    cases = [
        ([], "holds 3 styles: choose one"),
        (["--style", "sunflowers"], "no style 'sunflowers'"),
        (["--style", "starri"], "starry"),  # did you mean
        (["--style", "3"], "no style 3"),
        (["--style-mix", "starry:0.5,nope:0.5"], "no style 'nope'"),
        (["--style-mix", "starry:-1"], "weight of style 'starry'"),
        (["--style-mix", "starry:0"], "all zero"),
        (["--region", f"{not_an_image}:starry"], "bad --region mask"),
        (["--region", f"{data['root'] / 'missing.png'}:starry"], "not found"),
        (["--region", "sky.png"], "MASK:STYLE"),
        (["--region", f"{data['mask']}:nope"], "no style 'nope'"),
        (["--style", "starry", "--reconstruct"], "--style and --reconstruct"),
        (["--style", "starry", "--strength", "2"], "--strength"),
        (["--reconstruct", "--strength", "0.5"], "--strength with --reconstruct"),
        (["--region", f"{data['root']}:starry"], "is a folder"),
    ]
    for args, message in cases:
        result = styx_cli("run", "stylebank", "--model", "bank", str(photo), "-o", str(out),
                          *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_one_style_model_needs_no_choice(data):
    trained = train_tiny(data, styles=1, iterations=1)
    assert trained.name == "stylebank-starry"
    out = styx.stylize("stylebank", torch.rand(1, 3, 20, 20), model=trained.name).image
    assert out.shape == (1, 3, 20, 20)


# -- the train command ---------------------------------------------------------------------
def test_train_and_add_style_from_the_command_line(data, styx_cli):
    styles, content = data["styles"], str(data["content"])
    result = styx_cli("train", "stylebank", "--style", str(styles[0]), "--style",
                      str(styles[1]), "--content-dir", content, "--name", "cli",
                      "--iterations", "2", *TINY_TRAIN, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["iterations"] == 2
    result = styx_cli("train", "stylebank", "--from", "cli", "--add-style", str(styles[2]),
                      "--content-dir", content, "--iterations", "1", *TINY_TRAIN)
    assert result.exit_code == 0, result.stderr
    assert load_model("cli").styles == ["starry", "scream", "wave"]


def test_train_errors(data, styx_cli):
    styles, content = data["styles"], str(data["content"])
    texture = styx_cli("train", "texture-nets", "--style", str(styles[0]), "--content-dir",
                       content, "--name", "tn", "--iterations", "1", "--scales", "2",
                       "--channels", "2", "--weights", "random", "--image-size", "32",
                       "--content-layers", "relu2_1", "--style-layers", "relu1_1", "--quiet")
    assert texture.exit_code == 0, texture.stderr
    train_tiny(data, name="cli4", iterations=1)  # width 4, as TINY_TRAIN gives
    cases = [
        ([], "no style image given"),
        (["--style", str(styles[0]), "--add-style", str(styles[1])], "--from MODEL"),
        (["--from", "tn", "--add-style", str(styles[1])], "trained by 'texture-nets'"),
        (["--from", "nothing", "--add-style", str(styles[1])], "no model named 'nothing'"),
        (["--from", "tn"], "no style to add"),
        (["--from", "tn", "--style", str(styles[1])], "--add-style"),
        (["--style", str(data["root"] / "missing.png")], "not found"),
        (["--style", str(styles[0]), "--style-steps", "0"], "--style-steps"),
        (["--style", str(styles[0]), "--balance", "0"], "--balance"),
        (["--style", str(styles[0]), "--width", "0"], "--width"),
        (["--style", str(styles[0]), "--padding", "mirror"], "--padding"),
        (["--style-dir", str(data["root"] / "home")], "no images found"),
        (["--from", "cli4", "--add-style", str(styles[1]), "--width", "8"],
         "--width 8 with --from"),
        (["--from", "cli4", "--add-style", str(styles[1]), "--norm", "batch"], "--norm batch"),
        (["--from", "cli4", "--add-style", str(styles[1]), "--style-steps", "3"],
         "--style-steps with --from"),
    ]
    for args, message in cases:
        result = styx_cli("train", "stylebank", *TINY_TRAIN, "--content-dir", content,
                          "--iterations", "1", *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert [m.name for m in styx.list_models()] == ["cli4", "tn"]
    assert load_model("cli4").styles == ["starry", "scream"]


# -- several processes -------------------------------------------------------------------------
@pytest.mark.slow
def test_two_process_gloo_training_writes_one_model(data):
    root = data["root"]
    summaries = torchrun_styx(
        ["train", "stylebank", "--style", str(data["styles"][0]), "--style",
         str(data["styles"][1]), "--content-dir", str(data["content"]), "--name", "ddp",
         "--device", "cpu", "--iterations", "4", "--checkpoint-every", "2", "--log-every", "1",
         "--json", *TINY_TRAIN],
        env={"STYX_HOME": str(root / "home")})
    assert len(summaries) == 1 and summaries[0]["iterations"] == 4
    assert [p.name for p in (root / "home" / "models").iterdir()] == ["ddp"]
    model = load_model("ddp")
    assert model.styles == ["starry", "scream"]
    assert "reconstruction" in model.metadata["training"]["final_losses"]
    assert model(torch.rand(1, 3, 20, 20), style=1).shape == (1, 3, 20, 20)


def test_adding_styles_with_other_loss_settings_says_which(data, capsys):
    train_tiny(data, name="bank", iterations=1)
    capsys.readouterr()
    train_tiny(data, styles=0, from_model="bank", add_style=[data["styles"][2]],
               iterations=1, style_weight=10.0, quiet=False)
    err = capsys.readouterr().err
    assert "loss settings differ from the model's first training" in err
    assert "lists them): style_weight;" in err
    added = load_model("bank").metadata["styles"][2]["added"]
    assert added["loss"]["style_weight"] == 10.0


def test_styles_can_be_added_again_and_again_in_place(data):
    train_tiny(data, name="bank", iterations=1)
    digits = write_image(data["root"] / "123.png", 30, 30, seed=11)
    for style in (data["styles"][2], digits):
        train_tiny(data, styles=0, from_model="bank", add_style=[style], iterations=1)
    model = load_model("bank")
    assert model.styles == ["starry", "scream", "wave", "style-123"]
    runs = sorted(p.name for p in (data["root"] / "home" / "runs").iterdir())
    assert runs == ["bank", "bank.add-3", "bank.add-4"]  # one run folder per addition
    assert sorted(p.name for p in (data["root"] / "home" / "models" / "bank" / "parts")
                  .iterdir()) == ["styles-2-2.safetensors", "styles-3-3.safetensors"]
    photo = torch.rand(1, 3, 16, 16)
    assert not torch.equal(model(photo, style="style-123"), model(photo, style="wave"))


def test_one_styles_masks_are_joined_and_library_forms_are_read(bank):
    from styx.plugins.methods.stylebank.choice import region_weights
    from styx.runtime.masks import load_mask

    grey = torch.full((8, 8), 0.5)
    twice = region_weights(bank, [(grey, "starry"), (grey, "starry")], (8, 8))
    torch.testing.assert_close(twice, region_weights(bank, [(grey, "starry")], (8, 8)))
    photo = torch.rand(1, 3, 16, 16)
    assert torch.equal(bank(photo, style_mix=[("starry", 1), ("scream", 1)]),
                       bank(photo, style_mix="starry,scream"))
    with pytest.raises(StyxError, match="values outside"):
        load_mask(torch.full((4, 4), 5.0), (4, 4))
    with pytest.raises(StyxError, match="H x W"):
        load_mask(torch.ones(2, 4, 4), (4, 4))
