"""One unit of work per request, CLI command or event handler (CONVENTIONS rule 2).

The edge opens a :class:`UnitOfWork`, hands ``uow.session`` to services, and commits.
Services ``flush`` but never commit. Leaving the block without committing rolls back.

On SQLite a write unit hands the write connection over when it ends (:func:`hand_over`),
so that every writer of the process gets its turn, first come first served.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


def queues_on_one_writer(factory: async_sessionmaker[AsyncSession]) -> bool:
    """Whether ``factory`` makes SQLite write sessions: all of them share the one pooled
    write connection of the process (ADR 0005, ``core.db.make_sqlite_writer``)."""
    bind = factory.kw.get("bind")
    return (
        isinstance(bind, AsyncEngine)
        and bind.dialect.name == "sqlite"
        and bool(bind.get_execution_options().get("loopmall_write", False))
    )


async def hand_over() -> None:
    """Let the writer that waits longest for the write connection take it, now that this
    task gave it back, before this task can ask for it again.

    Why one turn of the event loop is enough, and fair: the pool keeps the connection in
    an asyncio queue, and writers that found it taken wait in that queue's first-in
    first-out list. Giving the connection back wakes the first of them, that is, puts its
    task on the event loop's ready list; but the connection stays in the queue until that
    task runs, and a task that asks before then gets it without waiting. A loop that
    commits and at once begins its next write (the flash-sale gate's batcher, the order
    maker, the outbox dispatcher) asked before then every time: the woken writer found the
    queue empty, went to the back of the list, and waited until the pool timed it out.
    ``sleep(0)`` puts this task on the ready list behind the woken one: the woken writer
    runs first and takes the connection, and when this task asks again it waits at the
    back of the list like everybody else. So each writer waits for at most the writers
    that asked before it (tests/core/test_writer_handover.py)."""
    await asyncio.sleep(0)


def _forget_published(session: AsyncSession) -> None:
    from loopmall.core.outbox import forget_published

    forget_published(session)


class UnitOfWork:
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None
        self._hands_over = queues_on_one_writer(factory)
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._factory()
        return self._session

    async def commit(self) -> None:
        held = False
        if self._session is not None:
            held = self._session.in_transaction()
            await self._session.commit()
            # Imported here: the outbox module imports this one.
            from loopmall.core.outbox import run_after_commit

            self.committed = True
            await run_after_commit(self._session)
        self.committed = True
        if held and self._hands_over:
            # The commit gave the write connection back. Marked committed first: a
            # cancellation that lands in the handover does not undo the commit.
            await hand_over()

    async def rollback(self) -> None:
        if self._session is not None:
            held = self._session.in_transaction()
            await self._session.rollback()
            _forget_published(self._session)
            if held and self._hands_over:
                await hand_over()

    async def close(self) -> None:
        if self._session is not None:
            # A transaction still open holds the write connection until the close (a
            # unit left without a commit); after a commit it is already back.
            held = self._session.in_transaction()
            _forget_published(self._session)
            await self._session.close()
            self._session = None
            if held and self._hands_over:
                await hand_over()

    async def __aenter__(self) -> UnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing without a commit rolls the transaction back; unlike rollback() it leaves
        # loaded objects readable (detached) for the caller.
        await self.close()
