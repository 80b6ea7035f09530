"""``docs/EVENTS.md``, generated from the event types: every event a domain publishes, its
version, fields, who subscribes to it, and an example of it on the wire.

    python -m loopmall.core.event_catalogue           # write docs/EVENTS.md
    python -m loopmall.core.event_catalogue --check   # exit 1, naming what is stale

The envelope is what the broker carries and what the open platform will send to merchants'
webhooks, so this page is a promise to outside readers: fields are only ever added, any
other change is a new version. ``tests/core/test_event_catalogue.py`` fails while the page
is stale, and checks that every event round-trips and has a reader.

The event types and subscribers register themselves when their modules are imported, so the
page would depend on what happened to be imported first. :func:`load_all` imports every
module that declares them — each domain's ``events``, ``handlers`` and ``jobs`` modules —
found by walking the package (core never imports ``app``; the test checks that the app's
``HANDLER_MODULES`` are all among them).
"""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
import sys
import types
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

import loopmall
from loopmall.core.events import Envelope, Event, Subscriber, all_subscribers, event_types

DOC = Path(__file__).resolve().parents[3] / "docs" / "EVENTS.md"
COMMAND = "python -m loopmall.core.event_catalogue"
# The modules that declare event types or register subscribers and periodic jobs.
MODULE_NAMES = ("events", "handlers", "jobs", "jobs_core")

# The example envelope's fixed id and time, so the page does not change between runs.
EXAMPLE_ID = 1001
EXAMPLE_AT = datetime(2024, 6, 18, 2, 30, tzinfo=UTC)


def declaring_modules() -> list[str]:
    """Every ``loopmall.<package>.<events|handlers|jobs>`` module, sorted."""
    found = []
    for package in pkgutil.iter_modules(loopmall.__path__):
        if not package.ispkg:
            continue
        path = [str(Path(loopmall.__path__[0]) / package.name)]
        for module in pkgutil.iter_modules(path):
            if module.name in MODULE_NAMES:
                found.append(f"loopmall.{package.name}.{module.name}")
    return sorted(found)


def load_all() -> list[str]:
    """Import every declaring module; returns their names."""
    names = declaring_modules()
    for name in names:
        importlib.import_module(name)
    return names


def ours(obj: type[Any] | Subscriber[Any]) -> bool:
    """Declared by Loopmall itself (a test's own events and subscribers are left out)."""
    module = obj.handler.__module__ if isinstance(obj, Subscriber) else obj.__module__
    return module.startswith("loopmall.")


def catalogued_types() -> list[type[Event]]:
    return [cls for cls in event_types() if ours(cls)]


def subscribers_by_topic() -> dict[str, list[Subscriber[Any]]]:
    out: dict[str, list[Subscriber[Any]]] = {}
    for sub in all_subscribers():
        if ours(sub):
            out.setdefault(sub.topic, []).append(sub)
    return out


# --- example values ------------------------------------------------------------------

# Public ids by the thing they name (``order_public_id`` → ``ord_…``), as ``core.ids`` makes them.
PREFIXES = {
    "order": "ord",
    "fitting": "fit",
    "share": "sh",
    "message": "msg",
    "conversation": "cnv",
    "sku": "sku",
    "product": "prd",
    "location": "loc",
    "entry": "ce",
    "earning": "ce",
    "settlement": "cs",
    "sale": "fs",
    "channel": "qrc",
    "store": "st",
    "customer": "cus",
    "staff": "stf",
    "owner": "stf",
    "merchant": "mch",
    "payment": "pay",
    "refund": "rfd",
    "notification": "ntf",
}
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

# Plain values by field name, where a name alone says what a realistic value is.
STRINGS = {
    "number": "2024061883920571",
    "status": "paid",
    "kind": "mall",
    "fulfilment": "delivery",
    "payment_method": "online",
    "pickup_code": "384920",
    "carrier": "SF Express",
    "tracking_no": "SF1402937466021",
    "reason": "stock_gone",
    "provider": "wechat_pay",
    "slug": "blue-harbor",
    "name": "Blue Harbor Outfitters",
    "store_name": "Jing'an Flagship",
    "store_address": "1601 Nanjing West Road, Shanghai",
    "guide_name": "Li Na",
    "title": "Linen shirt, white, M",
    "role": "guide",
    "rule": "last_touch",
}
INTS = {
    "merchant_id": 7,
    "total_fen": 25800,
    "paid_fen": 25800,
    "amount_fen": 25800,
    "refunded_fen": 9900,
    "refund_fen": 9900,
    "price_fen": 9900,
    "rate_bp": 500,
    "depth": 1,
    "quantity": 2,
    "delta": 12,
}


def _public_id(name: str) -> str:
    stem = name.removesuffix("_public_id").removesuffix("_id").rsplit("_", 1)[-1]
    prefix = PREFIXES.get(stem, stem[:3])
    raw = zlib.crc32(name.encode())
    suffix = "".join(_ALPHABET[(raw >> (i % 7) * 4 + i) % 32] for i in range(16))
    return f"{prefix}_{suffix}"


def _example_str(name: str) -> str:
    if name in STRINGS:
        return STRINGS[name]
    if name.endswith("public_id") or name in PREFIXES:
        return _public_id(name)
    return name.replace("_", " ")


def _example_int(name: str) -> int:
    if name in INTS:
        return INTS[name]
    if name.endswith("_fen"):
        return 25800
    if name.endswith("_id"):
        # A stable, plausible row id per field name.
        return 100 + zlib.crc32(name.encode()) % 9000
    return 3


def _non_null(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        kept = [a for a in get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else annotation
    return annotation


def example_value(name: str, annotation: Any, info: FieldInfo | None = None) -> Any:
    """A realistic JSON value for field ``name``: its declared example if it has one, else
    one made from its name and type."""
    if info is not None and info.examples:
        return info.examples[0]
    annotation = _non_null(annotation)
    origin = get_origin(annotation)
    if origin is list:
        (item,) = get_args(annotation) or (str,)
        return [example_value(name, item)]
    if origin is dict:
        return {}
    if origin is Literal:
        return get_args(annotation)[0]
    return _example_of_class(name, annotation) if isinstance(annotation, type) else None


def _example_of_class(name: str, cls: type[Any]) -> Any:
    if issubclass(cls, BaseModel):
        return example_data(cls)
    if issubclass(cls, enum.Enum):
        return next(iter(cls)).value
    if issubclass(cls, bool):
        return True
    if issubclass(cls, int):
        return _example_int(name)
    if issubclass(cls, datetime):
        return EXAMPLE_AT.isoformat()
    if issubclass(cls, date):
        return EXAMPLE_AT.date().isoformat()
    if issubclass(cls, str):
        return _example_str(name)
    if issubclass(cls, float):
        return 1.5
    return None


def example_data(cls: type[BaseModel]) -> dict[str, Any]:
    """Every field of ``cls`` with an example value (optional ones too: a reader should see
    them filled in)."""
    return {
        name: example_value(name, info.annotation, info) for name, info in cls.model_fields.items()
    }


def example(cls: type[Event]) -> Event:
    """An instance of ``cls`` made of example values."""
    return cls.model_validate(example_data(cls))


def example_envelope(cls: type[Event]) -> Envelope:
    event = example(cls)
    return Envelope(
        id=EXAMPLE_ID,
        topic=cls.topic,
        version=cls.version,
        merchant_id=event.merchant_id,
        occurred_at=EXAMPLE_AT,
        data=event.data(),
        aggregate=event.aggregate,
    )


# --- the page ------------------------------------------------------------------------


def type_name(annotation: Any) -> str:
    """How a field's type reads in the table: JSON words, not Python ones."""
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(type_name(a) for a in get_args(annotation))
    if origin is list:
        (item,) = get_args(annotation) or (Any,)
        return f"list of {type_name(item)}"
    if origin is dict:
        return "object"
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in get_args(annotation))
    if annotation is type(None):
        return "null"
    return _class_name(annotation) if isinstance(annotation, type) else str(annotation)


JSON_NAMES: dict[type[Any], str] = {bool: "boolean", int: "integer", str: "string", float: "number"}


def _class_name(cls: type[Any]) -> str:
    if issubclass(cls, BaseModel):
        return f"[{cls.__name__}](#{cls.__name__.lower()})"
    if issubclass(cls, enum.Enum):
        return "one of " + ", ".join(f"`{m.value}`" for m in cls)
    if cls in JSON_NAMES:
        return JSON_NAMES[cls]
    if issubclass(cls, datetime):
        return "date-time (ISO 8601, UTC)"
    if issubclass(cls, date):
        return "date (ISO 8601)"
    return cls.__name__


def _field_rows(cls: type[BaseModel]) -> list[str]:
    """The fields' table; "required" is whether the field is always in ``data`` (a field
    that may be null says so in its type). The "about" column only where a field has one."""
    fields = cls.model_fields
    about = any(info.description for info in fields.values())
    rows = ["| field | type | required |" + (" about |" if about else ""), "|---|---|---|"]
    rows[1] += "---|" if about else ""
    for name, info in fields.items():
        required = "yes" if info.is_required() else f"no (default `{json.dumps(info.default)}`)"
        row = f"| `{name}` | {type_name(info.annotation)} | {required} |"
        if about:
            row += " " + (info.description or "").replace("|", "\\|") + " |"
        rows.append(row)
    return rows


def _nested_models(cls: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for info in cls.model_fields.values():
        stack = [info.annotation]
        while stack:
            a = stack.pop()
            stack.extend(get_args(a))
            if isinstance(a, type) and issubclass(a, BaseModel) and a not in found:
                found.append(a)
    return found


def _domain(cls: type[Event]) -> str:
    return cls.__module__.split(".")[1]


def _readers(cls: type[Event], subs: list[Subscriber[Any]]) -> str:
    names = [f"`{s.name}`" + (" (in order per aggregate)" if s.ordered else "") for s in subs]
    if cls.outward:
        names.append("*outward: the open platform's webhooks*")
    return ", ".join(names) or "**nobody**"


def _event_section(cls: type[Event], subs: list[Subscriber[Any]]) -> list[str]:
    env = example_envelope(cls)
    aggregate = (
        f"`{cls.aggregate_field}` (`{env.aggregate}` in the example)"
        if cls.aggregate_field
        else "none"
    )
    pretty = json.dumps(json.loads(env.to_json()), ensure_ascii=False, indent=2)
    lines = [
        f"### `{cls.topic}` (v{cls.version})",
        "",
        cls.summary or "*(no summary)*",
        "",
        f"- Type: `{cls.__module__}.{cls.__qualname__}`",
        f"- Aggregate: {aggregate}",
        f"- Read by: {_readers(cls, subs)}",
        "",
        *_field_rows(cls),
        "",
        "```json",
        pretty,
        "```",
        "",
    ]
    return lines


def render() -> str:
    """The page for every event type Loopmall declares."""
    load_all()
    kinds = catalogued_types()
    subs = subscribers_by_topic()
    lines = [
        "# Events",
        "",
        f"<!-- Generated by `{COMMAND}`; do not edit. -->",
        "",
        "Every event a domain publishes (`core.outbox.publish`, in the transaction of the change "
        "it announces), who reads it, its fields and an example envelope. The envelope is "
        "what the broker carries and what the open platform will send to merchants' webhooks: "
        "fields are only ever added; any other change is a new `version`, and the type says "
        "how to read the old one. Money is in fen (1/100 yuan); people and things are named "
        "by ids, never by phone numbers or addresses of customers.",
        "",
        f"Regenerate with `{COMMAND}` after changing an event type or a subscriber; "
        "`tests/core/test_event_catalogue.py` fails while this page is stale.",
        "",
        "An event is *outward* when it is published for the webhooks and nothing in-house "
        "needs it. An *aggregate* names the thing whose events ordered subscribers get in "
        "the order they were published.",
        "",
        "| topic | version | read by | summary |",
        "|---|---|---|---|",
    ]
    for cls in kinds:
        readers = len(subs.get(cls.topic, []))
        who = f"{readers} subscriber{'s' if readers != 1 else ''}" if readers else ""
        if cls.outward:
            who = f"{who} + outward" if who else "outward only"
        anchor = cls.topic.replace(".", "")  # the heading's anchor, as GitHub makes it
        lines.append(
            f"| [`{cls.topic}`](#{anchor}-v{cls.version}) | {cls.version} | {who} | {cls.summary} |"
        )
    lines += ["", "## The envelope", ""]
    lines += [
        "| field | type | about |",
        "|---|---|---|",
        "| `id` | integer | the event's id, unique, increasing in publishing order |",
        "| `topic` | string | what happened, `domain.past_tense_fact` |",
        "| `version` | integer | the version of `data`'s shape |",
        "| `merchant_id` | integer | the merchant (tenant) the event belongs to |",
        "| `occurred_at` | date-time (ISO 8601, UTC) | when it was published, in the transaction "
        "of the change |",
        "| `aggregate` | string or null | `kind:id` of the thing ordered delivery follows |",
        "| `data` | object | the event's fields, below |",
        "",
    ]
    domains: dict[str, list[type[Event]]] = {}
    for cls in kinds:
        domains.setdefault(_domain(cls), []).append(cls)
    nested: list[type[BaseModel]] = []
    for domain in sorted(domains):
        lines += [f"## {domain}", ""]
        for cls in domains[domain]:
            lines += _event_section(cls, subs.get(cls.topic, []))
            nested += [m for m in _nested_models(cls) if m not in nested]
    if nested:
        lines += ["## Shapes inside events", ""]
        for model in nested:
            lines += [f"### {model.__name__}", "", (model.__doc__ or "").strip(), ""]
            lines += [*_field_rows(model), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def stale(text: str, current: str) -> list[str]:
    """What differs between the page on disk and the one the types make, by section."""

    def sections(page: str) -> dict[str, str]:
        out: dict[str, str] = {}
        head = "(top)"
        for line in page.splitlines():
            if line.startswith("#"):
                head = line.lstrip("# ").strip()
            out[head] = out.get(head, "") + line + "\n"
        return out

    want, have = sections(text), sections(current)
    return [
        head
        for head in [*want, *(h for h in have if h not in want)]
        if want.get(head) != have.get(head)
    ]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != text:
            changed = stale(text, current)
            print(f"{DOC.name} is stale ({', '.join(changed[:10]) or 'missing'}): {COMMAND}")
            return 1
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
