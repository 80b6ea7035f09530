"""python -m bench.events.loadgen --db URL --events N [--batch B] [--rate R]

Publishes ``N`` benchmark events into the outbox of the database at ``URL`` from a process of
its own (not the app's): ``B`` events per transaction, as fast as it can or at ``R`` events
per second. Prints the seconds it took."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.events.world import Ticked
from loopmall.config import Settings
from loopmall.core.outbox import publish
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork

THINGS = 200  # aggregates the events are spread over


async def generate(url: str, events: int, batch: int, rate: float, first: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        state = AppState.build(Settings(database_url=url, data_dir=Path(tmp)))
        try:
            started = time.perf_counter()
            for start in range(0, events, batch):
                if rate > 0:  # paced: the start-th event is due at start / rate
                    due = started + start / rate
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                numbers = range(first + start, first + min(events, start + batch))
                async with UnitOfWork(state.write_factory) as uow:
                    now = time.time()
                    await publish(
                        uow.session,
                        *(
                            Ticked(merchant_id=1, thing_id=i % THINGS, seq=i // THINGS, sent_at=now)
                            for i in numbers
                        ),
                    )
                    await uow.commit()
            return time.perf_counter() - started
        finally:
            await state.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.events.loadgen")
    parser.add_argument("--db", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s (0: as fast as it can)")
    parser.add_argument("--first", type=int, default=0, help="number of the first event")
    args = parser.parse_args()
    seconds = asyncio.run(generate(args.db, args.events, args.batch, args.rate, args.first))
    print(f"{seconds:.3f}")


if __name__ == "__main__":
    main()
