"""``--amp auto``: bf16 on CPUs with native bf16 (asked of torch, mocked here both ways), fp32
on the others; the choice is said in the run's first line and recorded in ``--json``,
``--log-json``, training logs, checkpoints and model metadata; ``--amp off`` is exact fp32.
"""

from __future__ import annotations

import json

import pytest
import tiny
import torch

import styx
from styx.core.errors import StyxError
from styx.runtime import device as device_module
from styx.runtime.device import autocast, choose_precision, cpu_has_native_bf16

CPU = torch.device("cpu")


@pytest.fixture
def native_bf16(monkeypatch):
    """This CPU computes bf16 natively (AVX-512 BF16 or AMX), whatever it really has."""
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)


@pytest.fixture
def emulated_bf16(monkeypatch):
    """This CPU would only emulate bf16 (an AVX2-only CPU), whatever it really has."""
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)


# -- asking torch --------------------------------------------------------------------------
@pytest.mark.parametrize(("avx512_bf16", "amx", "native"),
                         [(False, False, False), (True, False, True), (False, True, True),
                          (True, True, True)])
def test_native_bf16_is_avx512_bf16_or_amx_as_torch_reports_them(monkeypatch, avx512_bf16,
                                                                  amx, native):
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert cpu_has_native_bf16() is native


def test_a_torch_without_the_capability_checks_means_no_native_bf16(monkeypatch):
    monkeypatch.setattr("platform.machine", lambda: "x86_64")
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert cpu_has_native_bf16() is False


@pytest.mark.parametrize("supported", [True, False])
def test_on_arm_onednn_is_asked(monkeypatch, supported):
    monkeypatch.setattr("platform.machine", lambda: "aarch64")
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: supported)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: not supported)
    assert cpu_has_native_bf16() is supported


# -- the choice ----------------------------------------------------------------------------
def test_auto_is_bf16_on_a_cpu_with_native_bf16(native_bf16):
    chosen = choose_precision(CPU, "auto")
    assert (chosen.name, chosen.dtype) == ("bf16", torch.bfloat16)
    assert chosen.describe() == "bf16 (auto: this CPU has native bf16)"
    assert choose_precision("cpu", None).name == "bf16"  # no value: auto


def test_auto_is_fp32_on_a_cpu_without_native_bf16(emulated_bf16):
    chosen = choose_precision(CPU, "auto")
    assert (chosen.name, chosen.dtype) == ("fp32", None)
    assert chosen.describe() == "fp32 (auto: this CPU has no native bf16)"


def test_auto_is_fp32_on_mps_and_bf16_or_fp16_on_cuda(native_bf16, monkeypatch):
    assert choose_precision(torch.device("mps"), "auto").dtype is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert choose_precision(torch.device("cuda"), "auto").describe() == "bf16 (auto: CUDA)"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert choose_precision(torch.device("cuda"), "auto").name == "fp16"


@pytest.mark.parametrize("capable", ["native_bf16", "emulated_bf16"])
@pytest.mark.parametrize(("amp", "name", "dtype"),
                         [("off", "fp32", None), ("fp32", "fp32", None), ("none", "fp32", None),
                          ("bf16", "bf16", torch.bfloat16), ("BFloat16", "bf16", torch.bfloat16),
                          ("fp16", "fp16", torch.float16), ("half", "fp16", torch.float16)])
def test_an_explicit_precision_is_kept_on_every_cpu(request, capable, amp, name, dtype):
    request.getfixturevalue(capable)
    chosen = choose_precision(CPU, amp)
    assert (chosen.name, chosen.dtype, chosen.describe()) == (name, dtype, name)


def test_an_unknown_precision_is_a_styx_error():
    with pytest.raises(StyxError, match="unknown precision 'fp8'"):
        choose_precision(CPU, "fp8")


def test_explicit_bf16_on_a_cpu_that_emulates_it_gets_a_note(emulated_bf16):
    note = choose_precision(CPU, "bf16").slow_here_note()
    assert note is not None and "no native bf16" in note and "--amp auto" in note
    assert choose_precision(CPU, "auto").slow_here_note() is None
    assert choose_precision(CPU, "fp16").slow_here_note() is None


def test_explicit_bf16_on_a_native_cpu_gets_no_note(native_bf16):
    assert choose_precision(CPU, "bf16").slow_here_note() is None
    assert choose_precision(CPU, "bf16").announce("gatys") == ["gatys on cpu in bf16"]


def test_the_first_line_names_the_run_the_device_and_the_choice(emulated_bf16):
    assert choose_precision(CPU, "auto").announce("training") == \
        ["training on cpu in fp32 (auto: this CPU has no native bf16)"]
    first, note = choose_precision(CPU, "bf16").announce("x")
    assert first == "x on cpu in bf16" and note.startswith("note: this CPU has no native")


def test_autocast_follows_the_choice(native_bf16, monkeypatch):
    a, b = torch.rand(4, 4), torch.rand(4, 4)
    with autocast(CPU, "auto"):
        assert (a @ b).dtype == torch.bfloat16
    with autocast("cpu", "off"):
        assert (a @ b).dtype == torch.float32
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    with autocast(CPU, "auto"):
        assert (a @ b).dtype == torch.float32


# -- gatys -----------------------------------------------------------------------------------
GATYS = {**tiny.GATYS, **tiny.SHALLOW, "steps": 3, "optimizer": "adam", "seed": 3,
         "device": "cpu"}


def test_gatys_amp_off_is_bit_for_bit_the_fp32_result(native_bf16, monkeypatch):
    off = styx.stylize("gatys", **GATYS, amp="off")
    assert off.precision == "fp32"
    assert torch.equal(off.image, styx.stylize("gatys", **GATYS, amp="fp32").image)
    auto = styx.stylize("gatys", **GATYS, amp="auto")
    assert auto.precision == "bf16" and not torch.equal(auto.image, off.image)
    # auto on a CPU without native bf16: the fp32 path, as --amp auto ran before.
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    previous = styx.stylize("gatys", **GATYS, amp="auto")
    assert previous.precision == "fp32"
    assert torch.equal(previous.image, off.image)
    assert [h["total"] for h in previous.history] == [h["total"] for h in off.history]


def test_gatys_says_and_records_its_precision(native_bf16, styx_cli, tmp_path):
    out, log = tmp_path / "out.png", tmp_path / "log.json"
    done = styx_cli("run", "gatys", *tiny.cli(GATYS), "-o", str(out), "--log-json", str(log))
    assert done.exit_code == 0, done.stderr
    assert done.stderr.splitlines()[0] == "gatys on cpu in bf16 (auto: this CPU has native bf16)"
    assert done.stderr.splitlines()[-1].endswith("s on cpu in bf16)")
    written = json.loads(log.read_text())
    assert (written["precision"], written["result"]["precision"]) == ("bf16", "bf16")
    assert written["config"]["amp"] == "auto"  # what was asked, beside what ran

    as_json = styx_cli("run", "gatys", *tiny.cli(GATYS), "-o", str(out), "--json",
                       "--amp", "off")
    assert json.loads(as_json.stdout)["precision"] == "fp32"
    assert as_json.stderr == ""  # --json: no notes


def test_gatys_notes_an_explicit_bf16_that_this_cpu_emulates(emulated_bf16, styx_cli, tmp_path):
    done = styx_cli("run", "gatys", *tiny.cli({**GATYS, "steps": 1}), "--amp", "bf16",
                    "-o", str(tmp_path / "out.png"))
    lines = done.stderr.splitlines()
    assert lines[0] == "gatys on cpu in bf16"
    assert lines[1].startswith("note: this CPU has no native bf16")
    quiet = styx_cli("run", "gatys", *tiny.cli({**GATYS, "steps": 1}), "--amp", "bf16",
                     "-o", str(tmp_path / "out.png"), "--quiet")
    assert quiet.stderr == ""


# -- training and trained models -------------------------------------------------------------
#: A tiny texture-nets training: two iterations of two 32 px crops, a small generator.
TRAINING = {**tiny.TRAINING, **tiny.SHALLOW, "batch_size": 2, "scales": 3, "channels": 4,
            "iterations": 2}
#: The same on the command line, saying what it does (``train_cli`` gives the iterations).
TRAIN = tiny.cli(TRAINING, leave_out=("iterations", "quiet"))


@pytest.fixture
def images(tmp_path, monkeypatch):
    from pattern_images import write_image

    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    write_image(tmp_path / "content" / "a.png", 40, 48, seed=1)
    write_image(tmp_path / "content" / "b.png", 36, 44, seed=2)
    return {"style": write_image(tmp_path / "style.png", 40, 40, seed=7),
            "content": tmp_path / "content", "root": tmp_path}


def train_cli(styx_cli, images, *more: str, iterations: int = 2):
    return styx_cli("train", "texture-nets", "--style", str(images["style"]),
                    "--content-dir", str(images["content"]), *TRAIN,
                    "--iterations", str(iterations), *more)


def test_training_says_and_records_its_precision(native_bf16, styx_cli, images):
    from styx.files.modelstore import model_info
    from styx.training.checkpoint import read_checkpoint

    log = images["root"] / "log.jsonl"
    done = train_cli(styx_cli, images, "--name", "m", "--log-json", str(log))
    assert done.exit_code == 0, done.stderr
    said = [line for line in done.stderr.splitlines() if not line.startswith("note:")]
    assert said[0] == "training on cpu in bf16 (auto: this CPU has native bf16)"
    assert [json.loads(line)["precision"] for line in log.read_text().splitlines()] == \
        ["bf16", "bf16"]
    metadata = model_info("m").metadata
    assert metadata["training"]["precision"] == "bf16"
    assert "precision" not in metadata["training"]["final_losses"]
    checkpoint = images["root"] / "home" / "runs" / "m" / "checkpoint.safetensors"
    assert read_checkpoint(checkpoint).state["precision"] == "bf16"

    as_json = train_cli(styx_cli, images, "--name", "m2", "--json", "--amp", "off")
    assert json.loads(as_json.stdout)["precision"] == "fp32"
    assert model_info("m2").metadata["training"]["precision"] == "fp32"


def test_training_with_amp_off_is_bit_for_bit_the_fp32_run(native_bf16, images, monkeypatch):
    options = {**TRAINING, "style": images["style"], "content_dir": images["content"]}
    root = images["root"]

    def trained(name: str, amp: str):
        return styx.train("texture-nets", **options, amp=amp, output=root / name)

    off = trained("off", "off")
    auto = trained("auto", "auto")
    assert (off.result.precision, auto.result.precision) == ("fp32", "bf16")
    assert [h["total"] for h in off.result.history] != [h["total"] for h in auto.result.history]
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    previous = trained("previous", "auto")  # auto where it means fp32, as it did before
    assert previous.result.precision == "fp32"
    assert [h["total"] for h in previous.result.history] == \
        [h["total"] for h in off.result.history]
    for name, value in off.generator.state_dict().items():
        assert torch.equal(value, previous.generator.state_dict()[name]), name


def test_resuming_in_another_precision_says_it_is_not_bit_for_bit(native_bf16, styx_cli,
                                                                   images, monkeypatch):
    first = train_cli(styx_cli, images, "--name", "r", "--quiet")
    assert first.exit_code == 0, first.stderr
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    done = train_cli(styx_cli, images, "--name", "r", "--resume", iterations=3)
    assert done.exit_code == 0, done.stderr
    assert "note: the run computed in bf16, now in fp32: it continues, but not bit for " \
           "bit (give --amp bf16 to keep it)" in done.stderr


def test_a_trained_model_runs_under_auto_and_says_so(native_bf16, styx_cli, images):
    done = train_cli(styx_cli, images, "--name", "g", "--quiet", "--amp", "off")
    assert done.exit_code == 0, done.stderr
    photo, out = images["content"] / "a.png", images["root"] / "out.png"
    ran = styx_cli("run", "texture-nets", "-m", "g", str(photo), "-o", str(out))
    assert ran.exit_code == 0, ran.stderr
    assert ran.stderr.splitlines()[0] == \
        "texture-nets model g on cpu in bf16 (auto: this CPU has native bf16)"
    as_json = json.loads(styx_cli("run", "texture-nets", "-m", "g", str(photo), "-o",
                                  str(out), "--json", "--amp", "off").stdout)
    assert (as_json["device"], as_json["precision"]) == ("cpu", "fp32")

    model = styx.load_model("g")
    off = styx.stylize("texture-nets", photo, model=model, amp="off", seed=1)
    auto = styx.stylize("texture-nets", photo, model=model, seed=1)  # the default: auto
    assert (off.precision, auto.precision) == ("fp32", "bf16")
    assert not torch.equal(off.image, auto.image)
    assert (off.image - auto.image).abs().mean() < 0.02  # bf16: close, not equal
    texture = styx.stylize("texture-nets", model=model, texture=True, size=(24, 24))
    assert texture.precision == "bf16"
