"""Request and response models for staff authentication."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from loopmall.core.text import PlainText

# Text follows core.text (PlainText; the middleware core.text_guard covers query and path).
ID_PARAM = r"^[\x21-\x7e]{1,40}$"


class TokenRequest(BaseModel):
    merchant: PlainText = Field(..., min_length=1, max_length=40, description="Merchant slug")
    phone: PlainText = Field(..., min_length=1, max_length=20)
    password: str = Field(..., min_length=1, max_length=200)
    label: PlainText = Field("", max_length=100, description="What the token is for")


class OperatorTokenRequest(BaseModel):
    email: PlainText = Field(..., min_length=3, max_length=120)
    password: str = Field(..., min_length=1, max_length=200)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - OAuth token type, not a secret
    expires_at: datetime


class MeOut(BaseModel):
    kind: str
    id: str
    name: str
    role: str | None
    merchant: str | None
    permissions: list[str]
