"""Platform operators, sign-in sessions and tokens, login attempts (staff: ``staff.models``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from loopmall.core.db import Base, BigId, IdMixin, UtcDateTime


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
