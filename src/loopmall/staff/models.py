"""A merchant's staff and the stores each works in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime
from loopmall.core.tenancy import TenantMixin


class Staff(TenantMixin, IdMixin, Base):
    """A merchant's staff member: owner, manager, store manager, guide (导购) or cashier."""

    __tablename__ = "staff"
    __table_args__ = (
        UniqueConstraint("merchant_id", "phone"),
        # The console's pickers list the first guides by name (migration 0027).
        Index("ix_staff_merchant_name", "merchant_id", "name", "id"),
    )

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    employee_no: Mapped[str] = mapped_column(String(40), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class StaffStore(TenantMixin, IdMixin, Base):
    """Which stores a store-scoped staff member works in."""

    __tablename__ = "staff_stores"
    __table_args__ = (UniqueConstraint("staff_id", "store_id"),)

    staff_id: Mapped[int] = mapped_column(BigId, ForeignKey("staff.id", ondelete="CASCADE"))
    store_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("stores.id", ondelete="CASCADE"), index=True
    )
