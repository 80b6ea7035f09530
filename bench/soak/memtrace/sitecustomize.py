"""Loaded by a soak process started with ``--tracemalloc`` (this folder first on PYTHONPATH).
Once the runner creates ``$SOAK_TRACEMALLOC_DIR/go`` (the app answers; traced from the start,
its imports take minutes on a busy machine, and a soak looks for growth after warm-up anyway),
trace allocations and dump a snapshot every ``SOAK_TRACEMALLOC_EVERY`` seconds into that
folder (``<pid>-<n>.snap``), for ``bench.soak.memtrace`` to compare after the run. Not loaded
otherwise."""

from __future__ import annotations

import os

_out = os.environ.get("SOAK_TRACEMALLOC_DIR")
if _out:
    import threading
    import time
    import tracemalloc

    def _dump(out: str, every: float, frames: int) -> None:
        while not os.path.exists(os.path.join(out, "go")):
            time.sleep(0.5)
        tracemalloc.start(frames)
        n = 0
        while True:
            time.sleep(every)
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            target = os.path.join(out, f"{os.getpid()}-{n:03d}.snap")
            snapshot.dump(target + ".tmp")
            os.replace(target + ".tmp", target)
            n += 1

    threading.Thread(
        target=_dump,
        args=(
            _out,
            float(os.environ.get("SOAK_TRACEMALLOC_EVERY", "60")),
            int(os.environ.get("SOAK_TRACEMALLOC_FRAMES", "8")),
        ),
        name="soak-tracemalloc",
        daemon=True,
    ).start()
