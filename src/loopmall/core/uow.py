"""One unit of work per request, CLI command or event handler (CONVENTIONS rule 2).

The edge opens a :class:`UnitOfWork`, hands ``uow.session`` to services, and commits.
Services ``flush`` but never commit. Leaving the block without committing rolls back.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


class UnitOfWork:
    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._session: AsyncSession | None = None
        self.committed = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._factory()
        return self._session

    async def commit(self) -> None:
        if self._session is not None:
            await self._session.commit()
            # Imported here: the outbox module imports this one.
            from loopmall.core.outbox import notify_committed

            notify_committed(self._session)
        self.committed = True

    async def rollback(self) -> None:
        if self._session is not None:
            await self._session.rollback()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
