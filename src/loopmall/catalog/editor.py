"""The console's product editor as a form: read what was posted, build the SKU matrix
(colours × sizes…), check amounts typed in yuan, and turn it into service calls.

Field names: ``title`` … ``sales_scope``; ``opt-K-name``/``opt-K-values`` for up to three
options (values separated by commas); one row per SKU: ``sku-N-id`` (empty for a new
one), ``sku-N-opt-K`` (its option values), ``sku-N-code``, ``sku-N-barcode``,
``sku-N-price``, ``sku-N-member_price`` (yuan, e.g. ``199.00``), ``sku-N-active``,
``sku-N-scope``. Errors are keyed by field name so the page shows each beside its field.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from loopmall.catalog.repository import ProductDetail
from loopmall.catalog.schemas import MAX_FEN, MAX_OPTIONS, MAX_SKUS, ProductIn
from loopmall.core.money import format_yuan, parse_yuan

Translate = Callable[..., str]

VALUE_SEPARATORS = re.compile(r"[,，、;；\n]+")


@dataclass
class OptionRow:
    name: str = ""
    values: list[str] = field(default_factory=list)

    @property
    def values_text(self) -> str:
        return ", ".join(self.values)


@dataclass
class SkuRow:
    id: str = ""
    values: list[str] = field(default_factory=list)
    code: str = ""
    barcode: str = ""
    price: str = ""
    member_price: str = ""
    active: bool = True
    scope: str = ""

    def label(self) -> str:
        return " / ".join(self.values) or "—"


@dataclass
class EditorForm:
    title: str = ""
    subtitle: str = ""
    description: str = ""
    category: str = ""
    tags: str = ""
    status: str = "draft"
    sales_scope: str = "all"
    options: list[OptionRow] = field(default_factory=list)
    rows: list[SkuRow] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def option_names(self) -> list[str]:
        return [o.name for o in self.options if o.name]

    def padded_options(self) -> list[OptionRow]:
        """The option rows plus empty ones, so the page always offers three."""
        return self.options + [OptionRow() for _ in range(MAX_OPTIONS - len(self.options))]

    def tag_list(self) -> list[str]:
        return [t for t in (p.strip() for p in VALUE_SEPARATORS.split(self.tags)) if t]


def _split_values(text: str) -> list[str]:
    return list(dict.fromkeys(v for v in (p.strip() for p in VALUE_SEPARATORS.split(text)) if v))


def blank_form() -> EditorForm:
    """A new product: no options, one plain SKU."""
    return EditorForm(rows=[SkuRow()])


def form_from_detail(detail: ProductDetail) -> EditorForm:
    """The editor filled from a stored product."""
    p = detail.product
    options = []
    for name in p.option_names:
        values = list(dict.fromkeys(str(s.sku.options.get(name, "")) for s in detail.skus))
        options.append(OptionRow(name, [v for v in values if v]))
    rows = [
        SkuRow(
            id=s.sku.public_id,
            values=[str(s.sku.options.get(name, "")) for name in p.option_names],
            code=s.sku.code,
            barcode=s.sku.barcode,
            price=format_yuan(s.sku.price),
            member_price=format_yuan(s.sku.member_price) if s.sku.member_price is not None else "",
            active=s.sku.status == "active",
            scope=s.sku.sales_scope or "",
        )
        for s in detail.skus
    ]
    return EditorForm(
        title=p.title,
        subtitle=p.subtitle,
        description=p.description,
        category=detail.category.public_id if detail.category else "",
        tags=", ".join(p.tags),
        status=p.status,
        sales_scope=p.sales_scope,
        options=options,
        rows=rows,
    )


def form_from_post(data: Mapping[str, Any]) -> EditorForm:
    """The editor as posted (nothing checked yet)."""

    def text(name: str) -> str:
        value = data.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    options = []
    for k in range(MAX_OPTIONS):
        name = text(f"opt-{k}-name")
        values = _split_values(text(f"opt-{k}-values"))
        if name or values:
            options.append(OptionRow(name, values))
    rows = []
    count = text("sku_rows")
    for n in range(min(int(count) if count.isdigit() else 0, MAX_SKUS * 2)):
        rows.append(
            SkuRow(
                id=text(f"sku-{n}-id"),
                values=[text(f"sku-{n}-opt-{k}") for k in range(len(options))],
                code=text(f"sku-{n}-code"),
                barcode=text(f"sku-{n}-barcode"),
                price=text(f"sku-{n}-price"),
                member_price=text(f"sku-{n}-member_price"),
                active=bool(text(f"sku-{n}-active")),
                scope=text(f"sku-{n}-scope"),
            )
        )
    return EditorForm(
        title=text("title"),
        subtitle=text("subtitle"),
        description=data.get("description", "") if isinstance(data.get("description"), str) else "",
        category=text("category"),
        tags=text("tags"),
        status=text("status") or "draft",
        sales_scope=text("sales_scope") or "all",
        options=options,
        rows=rows,
    )


def build_matrix(form: EditorForm) -> None:
    """Make one row per combination of option values (colours × sizes…), keeping what was
    typed in rows that still fit; a stored SKU whose combination is gone stays, off sale."""
    names = form.options
    combos = (
        [list(c) for c in itertools.product(*(o.values for o in names))]
        if names and all(o.values for o in names)
        else ([[]] if not names else [])
    )
    by_values: dict[tuple[str, ...], SkuRow | None] = {tuple(r.values): r for r in form.rows}
    rows = []
    for combo in combos[:MAX_SKUS]:
        rows.append(by_values.pop(tuple(combo), None) or SkuRow(values=combo))
    for leftover in by_values.values():
        if leftover is not None and leftover.id:
            leftover.active = False
            rows.append(leftover)
    form.rows = rows


@dataclass
class PricedRow:
    index: int
    row: SkuRow
    price: int
    member_price: int | None


def check_amounts(form: EditorForm, _: Translate) -> list[PricedRow]:
    """Parse every row's yuan amounts to fen; a bad one gets an error beside its field."""
    priced = []
    for n, row in enumerate(form.rows):
        price = _yuan(form, f"sku-{n}-price", row.price, _, required=True)
        member = _yuan(form, f"sku-{n}-member_price", row.member_price, _, required=False)
        if price is not None and member is not None and member > price:
            form.errors[f"sku-{n}-member_price"] = _(
                "The member price must not be above the price."
            )
        if price is not None:
            priced.append(PricedRow(n, row, price, member))
    return priced


def _yuan(form: EditorForm, name: str, text: str, _: Translate, *, required: bool) -> int | None:
    if not text:
        if required:
            form.errors[name] = _("Enter a price.")
        return None
    try:
        fen = parse_yuan(text)
    except ValueError:
        form.errors[name] = _("Enter an amount in yuan, such as 199.00 (at most two decimals).")
        return None
    if fen > MAX_FEN:
        form.errors[name] = _("That amount is too large.")
        return None
    return fen


def check_options(form: EditorForm, _: Translate) -> None:
    names = [o.name for o in form.options]
    for k, option in enumerate(form.options):
        if not option.name:
            form.errors[f"opt-{k}-name"] = _("Name this option, or clear its values.")
        elif names.count(option.name) > 1:
            form.errors[f"opt-{k}-name"] = _("Two options have the same name.")
        if not option.values:
            form.errors[f"opt-{k}-values"] = _("List at least one value.")
    if not form.rows:
        form.errors["rows"] = _("Add at least one SKU.")


def sku_in(form: EditorForm, priced: PricedRow) -> dict[str, Any]:
    row = priced.row
    return {
        "options": dict(zip(form.option_names, row.values, strict=False)),
        "code": row.code or None,
        "barcode": row.barcode,
        "price": priced.price,
        "member_price": priced.member_price,
        "sales_scope": row.scope or None,
    }


def product_fields(form: EditorForm) -> dict[str, Any]:
    return {
        "title": form.title,
        "subtitle": form.subtitle,
        "description": form.description,
        "category": form.category or None,
        "tags": form.tag_list(),
        "sales_scope": form.sales_scope,
        "option_names": form.option_names,
    }


def new_product(form: EditorForm, priced: list[PricedRow], _: Translate) -> ProductIn | None:
    """The :class:`ProductIn` the form describes (rows left off sale are not created), or
    None with ``form.errors`` filled."""
    kept = [p for p in priced if p.row.active]
    if not kept:
        form.errors["rows"] = _("Put at least one SKU on sale.")
        return None
    body = product_fields(form) | {
        "status": form.status,
        "skus": [sku_in(form, p) for p in kept],
    }
    try:
        return ProductIn.model_validate(body)
    except ValidationError as exc:
        record_errors(form, exc, [p.index for p in kept], _)
        return None


def record_errors(
    form: EditorForm, exc: ValidationError, row_indexes: list[int], _: Translate
) -> None:
    """Put pydantic's complaints beside the form fields they are about."""
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ())]
        name = loc[0] if loc else "form"
        if loc[:1] == ["skus"] and len(loc) >= 3 and loc[1].isdigit():
            n = row_indexes[int(loc[1])] if int(loc[1]) < len(row_indexes) else 0
            name = f"sku-{n}-{loc[2]}"
        elif loc[:1] == ["option_names"] and len(loc) >= 2 and loc[1].isdigit():
            name = f"opt-{loc[1]}-name"
        form.errors.setdefault(name, field_message(err.get("type", ""), _))


def field_message(kind: str, _: Translate) -> str:
    messages = {
        "missing": _("This is required."),
        "string_too_short": _("This is required."),
        "string_too_long": _("This is too long."),
        "string_pattern_mismatch": _("Use letters, digits, dots, dashes or slashes only."),
        "enum": _("Choose one of the offered values."),
        "too_long": _("Too many entries."),
    }
    return messages.get(kind, _("This value is not valid."))
