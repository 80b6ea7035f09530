"""Platform operator accounts: the people who run Loopmall for every merchant."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loopmall.core import clock
from loopmall.core.errors import Conflict, ValidationFailed
from loopmall.core.ids import new_public_id
from loopmall.identity.credentials import check_password, check_person_name
from loopmall.identity.models import Operator
from loopmall.identity.passwords import hash_password

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


class EmailTaken(Conflict):
    code = "email_taken"
    title = "An operator with this email already exists"


def clean_email(email: str) -> str:
    value = email.strip().lower()
    if len(value) > 120 or not _EMAIL.match(value):
        raise ValidationFailed("Not an email address", field="email")
    return value


async def create_operator(
    session: AsyncSession, *, email: str, name: str, password: str
) -> Operator:
    """Add a platform operator (logs in with email and password for a bearer token).

    Flushes, never commits. Raises ``ValidationFailed``, ``WeakPassword`` (422) and
    ``EmailTaken`` (409).
    """
    address = clean_email(email)
    the_name = check_person_name(name)
    check_password(password)
    operator = Operator(
        public_id=new_public_id("op"),
        email=address,
        name=the_name,
        password_hash=await hash_password(password),
        active=True,
        created_at=clock.now(),
    )
    try:
        async with session.begin_nested():
            session.add(operator)
            await session.flush()
    except IntegrityError:
        raise EmailTaken(field="email") from None
    return operator
