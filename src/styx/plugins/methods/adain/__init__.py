"""AdaIN (Huang & Belongie 2017): arbitrary style in one pass, no training per style.

Plugin module: it registers the method's spec and imports no torch. The options are in
:mod:`.config`, the network in :mod:`.network` (whose declared inputs, the photo, a style
image given at run time and a strength, make ``styx run adain``'s ``--style-image``, the
ONNX file's ``style`` input and the studio's painting picker), the training task in
:mod:`.task` (run by styx's shared loop, with a second data stream of paintings) and the run
function in :mod:`.api`.
"""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import MethodSpec

PACKAGE = "styx.plugins.methods.adain"

SPEC = MethodSpec(
    name="adain",
    summary="AdaIN (Huang & Belongie 2017): one decoder for every style; give any painting "
            "at run time and get the picture in one forward pass.",
    aliases=("arbitrary",),
    config=f"{PACKAGE}.config:AdaINRunConfig",
    run=f"{PACKAGE}.api:run",
    train_config=f"{PACKAGE}.config:AdaINTrainConfig",
    task=f"{PACKAGE}.task:AdaINTask",
    generator=f"{PACKAGE}.network:AdaINNetwork",
)


@hookimpl
def register_methods(register) -> None:
    register(SPEC)
