"""Loaded by a soak process started with ``--tracemalloc`` (this folder first on PYTHONPATH):
trace allocations from the start and dump a snapshot every ``SOAK_TRACEMALLOC_EVERY``
seconds into ``SOAK_TRACEMALLOC_DIR`` (``<pid>-<n>.snap``), for ``bench.soak.memtrace``
to compare after the run. Not loaded otherwise."""

from __future__ import annotations

import os

_out = os.environ.get("SOAK_TRACEMALLOC_DIR")
if _out:
    import threading
    import time
    import tracemalloc

    tracemalloc.start(int(os.environ.get("SOAK_TRACEMALLOC_FRAMES", "8")))
    _every = float(os.environ.get("SOAK_TRACEMALLOC_EVERY", "60"))

    def _dump(out: str) -> None:
        n = 0
        while True:
            time.sleep(_every)
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            target = os.path.join(out, f"{os.getpid()}-{n:03d}.snap")
            snapshot.dump(target + ".tmp")
            os.replace(target + ".tmp", target)
            n += 1

    threading.Thread(target=_dump, args=(_out,), name="soak-tracemalloc", daemon=True).start()
