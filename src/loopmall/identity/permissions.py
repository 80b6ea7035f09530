"""Roles and what they may do, in one table (CONVENTIONS rule 7)."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeAlias


class Role(StrEnum):
    OWNER = "owner"
    MANAGER = "manager"
    STORE_MANAGER = "store_manager"
    GUIDE = "guide"
    CASHIER = "cashier"


class Perm(StrEnum):
    SETTINGS_READ = "settings.read"
    SETTINGS_WRITE = "settings.write"
    STORES_READ = "stores.read"
    STORES_WRITE = "stores.write"
    STAFF_READ = "staff.read"
    STAFF_WRITE = "staff.write"
    CATALOG_READ = "catalog.read"
    CATALOG_WRITE = "catalog.write"
    INVENTORY_READ = "inventory.read"
    INVENTORY_WRITE = "inventory.write"
    INVENTORY_HOLD = "inventory.hold"
    IMPORTS_RUN = "imports.run"
    ORDERS_READ = "orders.read"
    ORDERS_FULFIL = "orders.fulfil"
    CHANNELS_READ = "channels.read"  # QR codes, posters, shares and their figures
    CHANNELS_WRITE = "channels.write"
    ATTRIBUTION_READ = "attribution.read"  # the ledger, bindings
    ATTRIBUTION_WRITE = "attribution.write"  # the rules, moving bindings
    COMMISSION_READ = "commission.read"  # every earner's commission (a guide sees their own)
    COMMISSION_WRITE = "commission.write"  # commission rules, settlement
    CUSTOMERS_READ = "customers.read"  # customer profiles (a guide: only those bound to them)
    GUIDE_WORK = "guide.work"  # the guide workbench: chat, cards, holds, fittings
    FLASHSALE_READ = "flashsale.read"
    FLASHSALE_WRITE = "flashsale.write"
    # Money going back out, and the merchant-wide money report: never a till's job (#11).
    PAYMENTS_REFUND = "payments.refund"
    PAYMENTS_RECONCILE = "payments.reconcile"
    # Approving a store sale below the price the price pipeline gives, beyond the guide's cap.
    DISCOUNTS_APPROVE = "orders.discount_approve"


_ALL = frozenset(Perm)

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OWNER: _ALL,
    Role.MANAGER: _ALL - {Perm.SETTINGS_WRITE},
    Role.STORE_MANAGER: frozenset(
        {
            Perm.STORES_READ,
            Perm.STAFF_READ,
            Perm.CATALOG_READ,
            Perm.INVENTORY_READ,
            Perm.INVENTORY_WRITE,
            Perm.INVENTORY_HOLD,
            Perm.ORDERS_READ,
            Perm.ORDERS_FULFIL,
            Perm.CHANNELS_READ,
            Perm.ATTRIBUTION_READ,
            Perm.COMMISSION_READ,
            Perm.CUSTOMERS_READ,
            Perm.GUIDE_WORK,
            Perm.FLASHSALE_READ,
            Perm.DISCOUNTS_APPROVE,
        }
    ),
    Role.GUIDE: frozenset(
        {Perm.STORES_READ, Perm.CATALOG_READ, Perm.INVENTORY_READ, Perm.INVENTORY_HOLD}
        | {Perm.ORDERS_READ, Perm.CHANNELS_READ, Perm.CUSTOMERS_READ, Perm.GUIDE_WORK}
    ),
    Role.CASHIER: frozenset({Perm.STORES_READ, Perm.CATALOG_READ, Perm.INVENTORY_READ})
    | {Perm.ORDERS_READ, Perm.ORDERS_FULFIL},
}

# Store roles see only the stores they are assigned to.
STORE_SCOPED_ROLES = frozenset({Role.STORE_MANAGER, Role.GUIDE, Role.CASHIER})


class Audience(StrEnum):
    """Who may call a route that needs no permission of a role (``identity.guards``)."""

    PUBLIC = "public"  # anyone, logged in or not
    MALL = "mall"  # anyone in the mall; a shopper logged in sees their own (or is asked to log in)
    SHOPPER = "shopper"  # a shopper logged in to the mall
    STAFF = "staff"  # any logged-in staff member or platform operator
    OPERATOR = "operator"  # a platform operator
    SIGNED = "signed"  # a provider's callback or a sale token: its signature is checked


# What a route needs: a permission of a staff role, or one of the audiences.
Guard: TypeAlias = Perm | Audience

STAFF_GUARDS = frozenset({Audience.STAFF, Audience.OPERATOR})


def role_may(role: Role, guard: Guard) -> bool:
    """Whether a merchant's staff member in ``role`` passes ``guard`` (staff guards only)."""
    if isinstance(guard, Perm):
        return guard in ROLE_PERMISSIONS[role]
    return guard is Audience.STAFF
