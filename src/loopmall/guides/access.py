"""Who may act on what in the guides API and pages: a guide on their own conversations,
holds and fittings; a store manager on those of their stores; owners and managers on all.
Anything outside that scope is 404."""

from __future__ import annotations

from typing import Any

from fastapi import Path

from loopmall.guides import customers
from loopmall.identity.deps import require
from loopmall.identity.permissions import Perm
from loopmall.identity.principal import Principal

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such conversation, customer, hold, fitting, SKU or store"},
    409: {
        "description": "`fitting_slot_taken`, `insufficient_stock`, `illegal_transition`, "
        "`hold_not_active`"
    },
    422: {
        "description": "`hold_too_long`, `fitting_closed_hour`, `fitting_slot_invalid`, "
        "`not_a_guide`, `validation_failed`"
    },
}


def path_id() -> Any:
    """A public id in the path (a fresh ``Path`` per parameter: FastAPI binds each to one)."""
    return Path(..., min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")


WORK = require(Perm.GUIDE_WORK)


def scope_of(principal: Principal) -> dict[str, Any]:
    """The filters that keep a caller to their own work (see the module's docstring); the
    services apply them in ``staffing.in_scope``."""
    if principal.role == "guide":
        return {"guide_staff_id": principal.staff_id}
    return {"store_ids": principal.store_ids}


def viewer_of(principal: Principal) -> customers.Viewer:
    return customers.Viewer(
        principal.staff_id, principal.role.value if principal.role else None, principal.store_ids
    )


def actor_of(principal: Principal) -> str:
    return f"staff:{principal.staff_id}"
