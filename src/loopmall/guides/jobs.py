"""The guides domain's periodic job: remind customers of fittings that start soon.

Job ``guides-fitting-reminders`` (every ``fitting_sweep_seconds``) publishes
``fitting.reminder`` (``guides.events``) once per fitting, ``fitting_reminder_seconds``
before its start."""

from __future__ import annotations

from loopmall.core.jobs import periodic
from loopmall.core.state import AppState
from loopmall.core.uow import UnitOfWork
from loopmall.guides import fittings


@periodic("guides-fitting-reminders", lambda settings: settings.fitting_sweep_seconds)
async def remind_fittings(state: AppState) -> int:
    """Remind customers of fittings starting within ``fitting_reminder_seconds``."""
    async with UnitOfWork(state.write_factory) as uow:
        count = await fittings.remind_due(
            uow.session, lead_seconds=state.settings.fitting_reminder_seconds
        )
        await uow.commit()
    return count
