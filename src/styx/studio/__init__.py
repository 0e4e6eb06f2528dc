"""The styx studio: a local web page to stylise, watch, compare and train (``styx serve``).

    from styx.studio import StudioSettings, create_app
    app = create_app(StudioSettings(folder=Path("~/.styx-studio").expanduser()))

:func:`create_app` gives a Starlette application (served by uvicorn in ``styx serve``);
its job queue runs ``styx.stylize`` and ``styx.train``, so every installed method and
stored model appears in the page with no studio code for it. See ``docs/studio.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from styx.studio.app import StudioSettings, create_app


def __getattr__(name: str) -> Any:
    if name in ("StudioSettings", "create_app", "Studio"):
        from styx.studio import app

        return getattr(app, name)
    raise AttributeError(name)


__all__ = ["StudioSettings", "create_app"]
