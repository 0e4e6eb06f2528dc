"""Gatys et al. image optimisation (plugin module: registers the method, imports no torch).

``styx run gatys [CONTENT] [STYLE ...] -o OUT.png`` optimises the pixels of an image so
that its descriptor features match the content image's and its Gram matrices match the
style images'. The method is its config (:mod:`.config`) and its run (:func:`.api.run`);
the command and ``styx.stylize("gatys", ...)`` are made from them.
"""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import MethodSpec


@hookimpl
def register_methods(register) -> None:
    register(MethodSpec(
        name="gatys",
        summary="Gatys et al. (2016): optimise the image's pixels against content, "
                "Gram style and TV losses, with any descriptor.",
        aliases=("neural-style",),
        config="styx.plugins.methods.gatys.config:GatysConfig",
        run="styx.plugins.methods.gatys.api:run",
    ))
