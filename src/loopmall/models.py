"""Imports every domain's tables so that metadata (and Alembic) sees them all."""

from __future__ import annotations

import importlib

MODEL_MODULES = (
    "loopmall.core.models",
    "loopmall.merchants.models",
    "loopmall.identity.models",
    "loopmall.staff.models",
    "loopmall.customers.models",
    "loopmall.catalog.models",
    "loopmall.inventory.models",
    "loopmall.imports.models",
    "loopmall.orders.models",
    "loopmall.payments.models",
    "loopmall.notifications.models",
    "loopmall.o2o.models",
    "loopmall.members.models",
    "loopmall.social.models",
    "loopmall.attribution.models",
    "loopmall.rebates.models",
    "loopmall.guides.models",
    "loopmall.flashsale.models",
)


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(name)
