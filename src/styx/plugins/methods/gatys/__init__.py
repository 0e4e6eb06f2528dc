"""Gatys et al. image optimisation (plugin module: registers the method, imports no torch).

``styx run gatys [CONTENT] [STYLE ...] -o OUT.png`` optimises the pixels of an image so
that its descriptor features match the content image's and its Gram matrices match the
style images'. The library call is :func:`styx.plugins.methods.gatys.api.stylize`.
"""

from __future__ import annotations

import styx
from styx.core.specs import MethodSpec


@styx.hookimpl
def register_methods(register) -> None:
    register(MethodSpec(
        name="gatys",
        summary="Gatys et al. (2016): optimise the image's pixels against content, "
                "Gram style and TV losses, with any descriptor.",
        aliases=("neural-style",),
        run_command="styx.plugins.methods.gatys.cli:run",
        api="styx.plugins.methods.gatys.api:stylize",
    ))
