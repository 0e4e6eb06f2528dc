"""The StyleBank training task: the paper's two branches on the one shared training loop.

The loop (:func:`styx.training.loop.train`) owns data, optimiser, schedule, checkpoints,
resume, DDP, AMP and progress. This task says what one iteration trains:

* **T stylising steps** (``style_steps``): every crop of the batch gets a style drawn at
  random, the batch goes through encoder, its banks (one grouped convolution) and decoder,
  and the perceptual objective scores each output against its own style. Encoder, decoder
  and the banks drawn are updated; the gradients of the other banks are cleared, so Adam
  leaves them exactly as they were.
* **then one auto-encoder step**: encoder and decoder alone, the pixel MSE between the
  output and the input. Its gradient is rescaled to ``balance`` x the norm of the last
  stylising step's encoder-and-decoder gradient (Algorithm 1 of the paper), in the loop's
  per-step hook (:meth:`StyleBankTask.balance_gradients`).

With a trained model to grow (``--from``), only the new banks train, on stylising steps
alone; the rest of the network is frozen (and its normalisation kept in eval mode).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from styx.files.modelstore import name_from_file, sha256_file
from styx.generators.models import Model
from styx.perceptual.objective import LossTerms
from styx.plugins.methods.stylebank.config import StyleBankTrainConfig
from styx.plugins.methods.stylebank.network import StyleBankNetwork
from styx.runtime.runlog import RunLog
from styx.training.data import mix_seed
from styx.training.feedforward import PerceptualTask


def style_entries(paths: list[Path], images: list[torch.Tensor], taken: list[str]
                  ) -> list[dict[str, Any]]:
    """The metadata of each style: a name unique among ``taken`` and each other (from the
    file's name), the file's name, its sha256 and the size it was trained at."""
    names = {name.casefold() for name in taken}
    entries = []
    for path, image in zip(paths, images):
        stem = name_from_file(path, fallback="style")
        if stem.isdigit():  # "123" would read as an index
            stem = f"style-{stem}"
        name, n = stem, 1
        while name.casefold() in names:
            n += 1
            name = f"{stem}-{n}"
        names.add(name.casefold())
        entries.append({"name": name, "file": path.name, "sha256": sha256_file(path),
                        "size": [int(s) for s in image.shape[-2:]]})
    return entries


class StyleBankTask(PerceptualTask):
    """The training of a StyleBank network (see the module docstring). ``base``: a trained
    StyleBank model to add the config's styles to."""

    method = "stylebank"
    target_per_style = True  # a batch mixes styles
    #: Banks that were not drawn (and, in auto-encoder steps, all of them) get no gradient.
    ddp_find_unused_parameters = True

    def __init__(self, config: StyleBankTrainConfig, *, base: Model | None = None) -> None:
        super().__init__(config, config.style_paths())
        self.base = base
        old = base.styles if base is not None else []
        #: The new styles (all of them, for a new model), and where their banks start.
        self.new_styles = style_entries(self.style_paths, self.style_images, old)
        self.first_new = len(old)
        self.num_styles = len(old) + len(self.style_paths)
        self.incremental = base is not None
        #: Carried from step to step (and in checkpoints, see state_dict): the norm of the
        #: last stylising step's encoder+decoder gradient, and the last values of each
        #: branch, so every log line reports both.
        self.last_style_norm: float | None = None
        self.last_style_terms: LossTerms | None = None
        self.last_reconstruction: torch.Tensor | None = None
        self._drawn: list[int] = []

    # -- TrainingTask ----------------------------------------------------------------------
    def build_model(self) -> StyleBankNetwork:
        if self.base is None:
            return StyleBankNetwork(self.config.network_config(self.num_styles))
        self._note_loss_changes()
        old: StyleBankNetwork = self.base.generator
        architecture = {**old.architecture(), "num_styles": self.num_styles}
        network = StyleBankNetwork.from_architecture(architecture)
        missing, unexpected = network.load_state_dict(old.state_dict(), strict=False)
        if unexpected or not all(key.startswith("banks.") for key in missing):
            raise RuntimeError(f"growing {self.base.name!r} by {len(self.new_styles)} "
                               f"bank(s) lost {[*unexpected, *missing][:3]}")
        network.freeze_all_but(range(self.first_new, self.num_styles))
        return network

    def is_reconstruction_step(self, step: int) -> bool:
        """Whether iteration ``step`` (0-based) trains the auto-encoder branch: the last of
        every ``style_steps + 1``; never when adding styles."""
        period = self.config.style_steps + 1
        return not self.incremental and step % period == period - 1

    def training_step(self, model: torch.nn.Module, batch: torch.Tensor, step: int
                      ) -> LossTerms:
        objective = self.objective_on(batch.device)
        if self.is_reconstruction_step(step):
            output = model(batch)  # no style weights: encoder and decoder alone
            loss = F.mse_loss(output.float(), batch.float())
            self.last_reconstruction = loss.detach()
            last = self.last_style_terms
            if last is None:
                return LossTerms(total=loss, extra={"reconstruction": loss})
            return LossTerms(total=loss, reported_total=last.total, content=last.content,
                             style=last.style, tv=last.tv, extra={"reconstruction": loss})
        ids = self._draw_styles(step, batch.shape[0], batch.device)
        output = model(batch, F.one_hot(ids + self.first_new, self.num_styles).float())
        terms = objective(output, objective.content_targets(batch), style_ids=ids)
        self.last_style_terms = terms.detached()
        if self.last_reconstruction is not None:
            terms.extra["reconstruction"] = self.last_reconstruction
        return terms

    def balance_gradients(self, model: torch.nn.Module, step: int, terms: LossTerms) -> None:
        """The loop's per-step hook (gradients unscaled, before the update): clear the
        gradients of the banks not drawn; rescale an auto-encoder step's gradient to
        ``balance`` x the last stylising step's norm."""
        network: StyleBankNetwork = model  # the loop passes the unwrapped model
        if self.is_reconstruction_step(step):
            norm = _gradient_norm(network.core_parameters())
            if self.last_style_norm is not None and norm > 0 and math.isfinite(norm):
                scale = self.config.balance * self.last_style_norm / norm
                for parameter in network.core_parameters():
                    if parameter.grad is not None:
                        parameter.grad.mul_(scale)
            return
        drawn = set(self._drawn)
        for index, bank in enumerate(network.banks):
            if index not in drawn:
                bank.grad = None
        if not self.incremental:
            norm = _gradient_norm(network.core_parameters())
            if math.isfinite(norm):
                self.last_style_norm = norm

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue exactly (see TrainingTask)."""
        return {"last_style_norm": self.last_style_norm,
                "last_reconstruction": None if self.last_reconstruction is None
                else self.last_reconstruction.cpu(),
                "last_style_terms": None if self.last_style_terms is None
                else dataclasses.asdict(self.last_style_terms.detached("cpu"))}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_style_norm = state.get("last_style_norm")
        self.last_reconstruction = state.get("last_reconstruction")
        terms = state.get("last_style_terms")
        self.last_style_terms = None if terms is None else LossTerms(**terms)

    def architecture(self) -> dict[str, Any]:
        if self.base is None:
            return self.config.network_config(self.num_styles).to_dict()
        return {**self.base.generator.architecture(), "num_styles": self.num_styles}

    def describe(self) -> dict[str, Any]:
        if self.base is None:
            return {"styles": self.new_styles,
                    "schedule": {"style_steps": self.config.style_steps,
                                 "balance": self.config.balance}}
        return {"styles": self.new_styles,
                "base": {"model": str(self.base.path), "styles": self.first_new,
                         "created": self.base.metadata.get("created"),
                         "updated": self.base.metadata.get("updated")}}

    def grown_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """The metadata of the base model with this session's styles added (each with the
        loss and training settings it was trained with)."""
        assert self.base is not None
        added = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        grown = {k: v for k, v in self.base.metadata.items()
                 if k not in ("format", "version", "parts", "updated")}
        grown["architecture"] = metadata["architecture"]
        grown["styles"] = [*self.base.metadata.get("styles", []),
                           *({**entry, "added": {"time": added, "loss": metadata["loss"],
                                                 "training": metadata["training"]}}
                             for entry in self.new_styles)]
        return grown

    # -- helpers ---------------------------------------------------------------------------
    def _draw_styles(self, step: int, count: int, device: torch.device) -> torch.Tensor:
        """The styles of this step's ``count`` crops (indices into the styles trained now),
        drawn from (seed, step): every process of a DDP run draws the whole step's styles
        and takes its share, so each knows which banks the step trains."""
        generator = torch.Generator().manual_seed(mix_seed("stylebank", self.config.seed, step))
        styles = len(self.new_styles)
        drawn = torch.randint(styles, (self.world_size * self.config.batch_size,),
                              generator=generator)
        self._drawn = sorted({int(i) + self.first_new for i in drawn})
        mine = drawn[self.rank * self.config.batch_size:][:count]
        return mine.to(device)

    def _note_loss_changes(self) -> None:
        """Say which loss settings differ from those the model's first styles trained
        with (once, on the first process)."""
        old = self.base.metadata.get("loss", {})
        new = self.metadata()["loss"]
        changed = [key for key in new if key in old and old[key] != new[key]]
        if changed:
            RunLog(main=self.rank == 0, quiet=self.config.quiet, log_json=None).say(
                "note: these loss settings differ from the model's first training ('styx "
                f"models show' lists them): {', '.join(changed)}; the new styles train with "
                "the values given")


def _gradient_norm(parameters: list[torch.nn.Parameter]) -> float:
    grads = [p.grad.detach().float().norm() for p in parameters if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0

