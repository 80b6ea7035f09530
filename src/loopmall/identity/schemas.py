"""Request and response models for staff authentication."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

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


class StoreRef(BaseModel):
    id: str = Field(..., description="Store public id")
    code: str
    name: str


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(..., max_length=20, description="11-digit mainland mobile; the login")
    name: PlainText = Field(..., max_length=50)
    role: str = Field(..., description="owner | manager | store_manager | guide | cashier")
    password: str | None = Field(
        None, max_length=200, description="At least 8 characters; without one, no login yet"
    )
    stores: list[str] = Field(
        default_factory=list, max_length=500, description="Store public ids (store roles: ≥1)"
    )
    employee_no: PlainText = Field("", max_length=40)


class StaffPatch(BaseModel):
    """The fields to change; ``stores`` replaces the assignments, ``password`` resets it."""

    model_config = ConfigDict(extra="forbid")

    phone: str | None = Field(None, max_length=20)
    name: PlainText | None = Field(None, max_length=50)
    role: str | None = None
    active: bool | None = None
    stores: list[str] | None = Field(None, max_length=500)
    password: str | None = Field(None, max_length=200)
    employee_no: PlainText | None = Field(None, max_length=40)


class StaffOut(BaseModel):
    id: str = Field(..., description="Public id")
    phone: str
    name: str
    role: str
    employee_no: str
    active: bool
    has_password: bool = Field(..., description="Whether this person can log in")
    stores: list[StoreRef]
    created_at: datetime
    updated_at: datetime
