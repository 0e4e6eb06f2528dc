"""Texture Networks (Ulyanov et al. 2016): a feed-forward generator trained once per style.

Plugin module: it registers the method's spec and imports no torch. The generator lives in
:mod:`.generator`, the training task in :mod:`.task`, the library calls in :mod:`.api` and
the ``styx train/run texture-nets`` commands in :mod:`.cli`.
"""

from __future__ import annotations

import styx
from styx.core.specs import MethodSpec

SPEC = MethodSpec(
    name="texture-nets",
    summary="Texture Networks (Ulyanov et al. 2016): train a multi-scale generator per style, "
            "then stylise any photo (or synthesise a texture) in one forward pass.",
    aliases=("texture_nets", "ulyanov"),
    run_command="styx.plugins.methods.texture_nets.cli:run",
    train_command="styx.plugins.methods.texture_nets.cli:train",
    api="styx.plugins.methods.texture_nets.api:stylize",
    feed_forward=True,
)


@styx.hookimpl
def register_methods(register) -> None:
    register(SPEC)
