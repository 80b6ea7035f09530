"""Request and response models for a merchant's staff (the staff API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from loopmall.core.text import PlainText


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
