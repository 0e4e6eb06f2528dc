"""Texture Networks (Ulyanov et al. 2016): a feed-forward generator trained once per style.

Plugin module: it registers the method's spec and imports no torch. The options are in
:mod:`.config`, the generator in :mod:`.generator`, the training task in :mod:`.task` (which
styx's shared feed-forward training runs) and the run function in :mod:`.api`;
``styx train/run texture-nets`` and ``styx.train``/``styx.stylize`` are made from them.
"""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import MethodSpec

PACKAGE = "styx.plugins.methods.texture_nets"

SPEC = MethodSpec(
    name="texture-nets",
    summary="Texture Networks (Ulyanov et al. 2016): train a multi-scale generator per style, "
            "then stylise any photo (or synthesise a texture) in one forward pass.",
    aliases=("texture_nets", "ulyanov"),
    config=f"{PACKAGE}.config:TextureNetsRunConfig",
    run=f"{PACKAGE}.api:run",
    train_config=f"{PACKAGE}.config:TextureNetsTrainConfig",
    task=f"{PACKAGE}.task:TextureNetsTask",
    generator=f"{PACKAGE}.generator:TextureNetwork",
)


@hookimpl
def register_methods(register) -> None:
    register(SPEC)
