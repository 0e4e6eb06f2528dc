"""StyleBank (Chen et al. 2017): one network, many styles, each a filter bank; new styles
without retraining; linear and region fusion of styles.

Plugin module: it registers the method's spec and imports no torch. The options are in
:mod:`.config`, the network in :mod:`.network`, the training task in :mod:`.task`, the
style choice at run time in :mod:`.choice` and the method's two functions in :mod:`.api`;
``styx train/run stylebank`` and ``styx.train``/``styx.stylize`` are made from them.
"""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import MethodSpec

PACKAGE = "styx.plugins.methods.stylebank"

SPEC = MethodSpec(
    name="stylebank",
    summary="StyleBank (Chen et al. 2017): one encoder-decoder, a filter bank per style; "
            "add styles later, mix them, or give each region of a photo its own.",
    aliases=("style-bank", "chen"),
    config=f"{PACKAGE}.config:StyleBankRunConfig",
    run=f"{PACKAGE}.api:run",
    train_config=f"{PACKAGE}.config:StyleBankTrainConfig",
    train=f"{PACKAGE}.api:train",
    generator=f"{PACKAGE}.network:StyleBankNetwork",
    style_choice=f"{PACKAGE}.styles:style_vector",
)


@hookimpl
def register_methods(register) -> None:
    register(SPEC)
