"""The route walker: which requests the benchmark times, read from the app's route table.

Every console page (``GET /console/…``) and every list endpoint (``GET /api/v1/…`` whose
response model is a list, a page of items, or an object carrying a list) becomes a
``Target``, its path parameters filled from the world's samples (a store, a guide, an
order, …). A route that can not be filled — a shopper's route, a parameter nothing in the
world names, a route that is not a list — becomes a ``Skipped`` with its reason: nothing
is dropped silently.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel

# A path parameter's name (and, where one name means different things, the path it is in)
# → the world's sample that fills it. Literal values start with "=".
FILL: dict[str, str] = {
    "public_id:staff_id": "staff",
    "public_id:store_id": "store",
    "/api/v1/staff/{public_id}": "staff",
    "/api/v1/stores/{public_id}": "store",
    "product_id": "product",
    "sku_id": "sku",
    "job_id": "import_job",
    "order_id": "order",
    "order": "order",
    "/api/v1/orders/pickup/{code}": "pickup_code",
    "/console/qrcodes/{code}.{kind}": "payment_code",
    "kind": "=png",
    "fmt": "=png",
    "channel": "channel",
    "share_id": "share",
    "customer": "customer",
    "/api/v1/guides/customers/{customer}": "chat_customer",
    "settlement_id": "settlement",
    "conversation": "conversation",
    "sale": "sale",
    "hold_id": "hold",
}
# Objects whose lists grow with a customer's history: timed as lists.
ALSO_LISTS = {
    "/api/v1/attribution/customers/{customer}",
    "/api/v1/guides/customers/{customer}",
    "/api/v1/shares/{share_id}",
}
# Required query parameters, filled like path parameters.
QUERY: dict[str, str] = {
    "/api/v1/guides/fittings/slots": "conversation={conversation}&day={today}",
}
OPERATOR = "a platform operator's route, not a merchant's"
SHOPPER = "a shopper's route (a consumer session in one mall), not the owner's"
NOT_SIGNED_IN = {"/console/login", "/console/signup"}
PARAM = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Target:
    route: str  # the route's path as declared
    url: str  # with the parameters filled
    kind: str  # page | api
    auth: bool = True


@dataclass(frozen=True)
class Skipped:
    route: str
    kind: str
    reason: str


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for r in routes:
        context = getattr(r, "include_context", None)
        if context is not None:  # FastAPI ≥ 0.16x keeps included routers as one entry
            yield from _routes(r.original_router.routes, prefix + context.prefix)
        elif hasattr(r, "path"):
            yield prefix + r.path, r


def returns_list(model: Any) -> bool:
    """A list, or a page of ``items`` (a ``Page[…]``, the ledger, the commission entries)."""
    if model is None:
        return False
    if typing.get_origin(model) in (list, tuple, set):
        return True
    if isinstance(model, type) and issubclass(model, BaseModel):
        items = model.model_fields.get("items")
        return items is not None and typing.get_origin(items.annotation) in (list, tuple)
    return False


def _fill(route: str, samples: dict[str, str]) -> tuple[str | None, str]:
    url = route
    for name in PARAM.findall(route):
        key = FILL.get(route) if name in ("public_id", "code") else None
        key = key or FILL.get(name)
        if key is None:
            return None, f"nothing in the world fills {{{name}}}"
        value = key[1:] if key.startswith("=") else samples.get(key)
        if value is None:
            return None, f"the world has no {key} for {{{name}}}"
        url = url.replace("{" + name + "}", value)
    return url, ""


def _query(template: str, samples: dict[str, str]) -> tuple[str | None, str]:
    values = samples | {"today": date.today().isoformat()}
    missing = [k for k in PARAM.findall(template) if k not in values]
    if missing:
        return None, f"the world has no {missing[0]} for the query"
    return template.format(**values), ""


def walk(app: Any, samples: dict[str, str]) -> tuple[list[Target], list[Skipped]]:
    """The targets and the skipped routes of ``app``'s route table, in its order."""
    targets: list[Target] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for path, route in _routes(app.routes):
        if "GET" not in (getattr(route, "methods", None) or set()) or path in seen:
            continue
        seen.add(path)
        if path.startswith("/console"):
            kind = "page"
        elif path.startswith("/api/v1/"):
            kind = "api"
        else:
            continue
        if path.startswith("/api/v1/mall/{slug}"):
            skipped.append(Skipped(path, kind, SHOPPER))
            continue
        if path.startswith("/api/v1/platform/"):
            skipped.append(Skipped(path, kind, OPERATOR))
            continue
        listed = returns_list(getattr(route, "response_model", None)) or path in ALSO_LISTS
        if kind == "api" and not listed:
            skipped.append(Skipped(path, kind, "not a list endpoint (one object or a file)"))
            continue
        url, why = _fill(path, samples)
        if url is not None and path in QUERY:
            query, why = _query(QUERY[path], samples)
            url = None if query is None else f"{url}?{query}"
        if url is None:
            skipped.append(Skipped(path, kind, why))
            continue
        targets.append(Target(path, url, kind, auth=path not in NOT_SIGNED_IN))
    return targets, skipped
