"""Staff of merchants, platform operators, sessions and tokens, login attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String, UniqueConstraint
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


class Operator(IdMixin, Base):
    """A platform operator: runs the service for all merchants."""

    __tablename__ = "operators"

    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuthSession(IdMixin, Base):
    """A page session (cookie) or an API bearer token. Only the token's hash is stored."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_staff", "staff_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(10))  # cookie|api
    staff_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("staff.id", ondelete="CASCADE"), nullable=True
    )
    operator_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("operators.id", ondelete="CASCADE"), nullable=True
    )
    merchant_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    label: Mapped[str] = mapped_column(String(100), default="")


class LoginAttempt(IdMixin, Base):
    """A failed login, for throttling when no Redis is configured."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_key_at", "key", "at"),)

    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
