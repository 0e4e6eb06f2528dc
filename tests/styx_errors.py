"""``styx_error(call, ...)``: the message and hint of the StyxError a call raises, for tests
that check both texts exactly."""

from __future__ import annotations

import pytest

from styx.core.errors import StyxError


def styx_error(call, *args, **kwargs) -> tuple[str, str | None]:
    with pytest.raises(StyxError) as caught:
        call(*args, **kwargs)
    return caught.value.message, caught.value.hint
