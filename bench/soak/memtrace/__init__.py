"""What grew between two tracemalloc snapshots of a soak process (``--tracemalloc``)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

HERE = Path(__file__).resolve().parent


def growth(snap_dir: Path, pid: int, *, top: int = 15, skip: int = 1) -> list[str]:
    """The ``top`` allocation sites (by traceback) that grew most between the ``skip``-th
    snapshot of ``pid`` (after warm-up) and its last; one line each, the innermost frames of
    our own code first."""
    snaps = sorted(snap_dir.glob(f"{pid}-*.snap"))
    if len(snaps) <= skip:
        return []
    first = tracemalloc.Snapshot.load(str(snaps[skip]))
    last = tracemalloc.Snapshot.load(str(snaps[-1]))
    lines = []
    for stat in last.compare_to(first, "traceback")[:top]:
        frames = [
            f"{f.filename.rsplit('/site-packages/', 1)[-1]}:{f.lineno}" for f in stat.traceback
        ]
        lines.append(
            f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
            + " ← ".join(reversed(frames[-4:]))
        )
    return lines
