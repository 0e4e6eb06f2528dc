"""``--shard K/N``: which of N processes sharing one job this one is (no torch here)."""

from __future__ import annotations

from styx.core.errors import StyxError


def parse_shard(spec: str) -> tuple[int, int]:
    """(K, N) of ``spec`` ``"K/N"`` with 0 <= K < N; anything else is a StyxError. How a
    shard's part is cut is its user's: every N-th photo of a folder
    (:func:`styx.inference.batch.shard`), the K-th run of a clip's segments
    (:func:`styx.video.pipeline.shard_range`)."""
    head, sep, tail = str(spec).strip().partition("/")
    if not sep or not head.strip().isdigit() or not tail.strip().isdigit() or \
            int(tail) < 1 or int(head) >= int(tail):
        raise StyxError(f"bad --shard {spec!r}",
                        "write K/N with 0 <= K < N, e.g. --shard 0/4 ... --shard 3/4")
    return int(head), int(tail)
