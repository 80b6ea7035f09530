"""The event catalogue (``docs/EVENTS.md``) and the promises it stands for (issue #12): the
page is current; every event type survives the wire (example → envelope JSON → event); every
event is read by a subscriber or published for the webhooks; every subscriber has a unique
name and reads a registered type; topics read ``domain.past_tense_fact``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from loopmall.core import event_catalogue as catalogue
from loopmall.core.events import (
    Envelope,
    Event,
    all_subscribers,
    event_type,
    event_types,
    subscribe,
    subscriber,
)

catalogue.load_all()
TYPES = catalogue.catalogued_types()

TOPIC = re.compile(r"^[a-z]+(_[a-z]+)*\.[a-z]+(_[a-z]+)*$")
PUBLIC_ID = re.compile(r"^[a-z]+_[0-9a-z]{16}$")
# Facts told by a participle that does not end in -ed/-en/-t (paid, sold, sent …) or by a
# state (ready_for_pickup) or a noun (reminder: the fitting's reminder is due).
NOT_ED = {"paid", "sold", "sent", "ready", "reminder"}


def _fact_word(topic: str) -> bool:
    words = topic.split(".", 1)[1].split("_")
    return any(w.endswith(("ed", "en")) or w in NOT_ED for w in words)


def test_the_catalogue_is_current() -> None:
    written = catalogue.DOC.read_text(encoding="utf-8")

    assert written == catalogue.render(), f"docs/EVENTS.md is stale: {catalogue.COMMAND}"


def test_check_names_the_stale_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "EVENTS.md"
    monkeypatch.setattr(catalogue, "DOC", page)

    assert catalogue.main([]) == 0
    assert catalogue.main(["--check"]) == 0
    page.write_text(
        page.read_text(encoding="utf-8").replace("An order was paid in full.", "Paid."),
        encoding="utf-8",
    )
    capsys.readouterr()
    assert catalogue.main(["--check"]) == 1
    said = capsys.readouterr().out
    assert "EVENTS.md is stale" in said and "`order.paid` (v1)" in said
    assert catalogue.COMMAND in said


def test_every_event_and_subscriber_is_declared_where_the_catalogue_looks(tmp_path: Path) -> None:
    """The page lists everything whatever was imported first: the modules it imports hold
    every handler module the app loads, and, with the whole app imported, every event type
    and subscriber of Loopmall lives in one of them."""
    from loopmall.app import HANDLER_MODULES, create_app
    from loopmall.config import Settings

    create_app(Settings(data_dir=tmp_path, auto_migrate=False, run_background=False))
    modules = set(catalogue.declaring_modules())

    assert set(HANDLER_MODULES) <= modules
    assert {cls.__module__ for cls in event_types() if catalogue.ours(cls)} <= modules
    assert {s.handler.__module__ for s in all_subscribers() if catalogue.ours(s)} <= modules
    assert [cls.topic for cls in catalogue.catalogued_types()] == [cls.topic for cls in TYPES]


@pytest.mark.parametrize("cls", TYPES, ids=[cls.topic for cls in TYPES])
def test_every_event_round_trips_on_the_wire(cls: type[Event]) -> None:
    event = catalogue.example(cls)
    env = catalogue.example_envelope(cls)

    back = Envelope.from_json(env.to_json())

    assert back == env
    assert back.event() == event
    assert type(back.event()) is cls
    assert back.aggregate == event.aggregate


@pytest.mark.parametrize("cls", TYPES, ids=[cls.topic for cls in TYPES])
def test_every_event_has_a_reader_and_a_summary(cls: type[Event]) -> None:
    readers = catalogue.subscribers_by_topic().get(cls.topic, [])

    assert readers or cls.outward, f"{cls.topic}: nobody subscribes and it is not outward"
    assert cls.summary, f"{cls.topic} has no summary for the catalogue"
    if cls.aggregate_field is not None:
        assert cls.aggregate_field in cls.model_fields


@pytest.mark.parametrize("cls", TYPES, ids=[cls.topic for cls in TYPES])
def test_topics_read_domain_dot_past_tense_fact(cls: type[Event]) -> None:
    assert TOPIC.match(cls.topic), f"{cls.topic}: lowercase words, one dot, underscores"
    assert _fact_word(cls.topic), f"{cls.topic}: say what happened (order.paid, share.created)"


def test_examples_are_realistic() -> None:
    """Money in whole fen, public ids shaped like ``core.ids`` makes them."""

    def walk(name: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(k, v)
        elif isinstance(value, list):
            for v in value:
                walk(name, v)
        elif name.endswith("_fen"):
            assert isinstance(value, int) and value >= 0, name
        elif name.endswith("public_id") and value is not None:
            assert PUBLIC_ID.match(value), (name, value)

    for cls in TYPES:
        walk(cls.topic, catalogue.example(cls).data())


def test_every_subscriber_reads_a_registered_type_under_a_unique_name() -> None:
    subs = [s for s in all_subscribers() if catalogue.ours(s)]
    names = [s.name for s in subs]

    assert subs
    assert len(names) == len(set(names))
    for s in subs:
        assert event_type(s.topic) is s.event_type, s.name
        assert subscriber(s.name) is s
        assert re.match(r"^[a-z_]+\.[a-z_.]+$", s.name), s.name


def test_a_subscriber_name_cannot_be_taken_twice() -> None:
    """Names are stored with every delivery: a second handler under a taken name is refused
    at import, so two subscribers can never share one delivery row."""
    taken = next(s for s in all_subscribers() if catalogue.ours(s))

    async def impostor(session: Any, tenant: Any, event: Any) -> None: ...

    with pytest.raises(RuntimeError, match="taken"):
        subscribe(taken.event_type, taken.name)(impostor)
    assert subscriber(taken.name) is taken


def test_examples_come_from_names_types_and_declared_examples() -> None:
    from pydantic import Field

    class Inner(BaseModel):
        credit_id: int

    class Sample(BaseModel):
        order_public_id: str
        paid_fen: int
        store_id: int | None = None
        inner: list[Inner]
        note: str = Field(examples=["gift wrap"])

    data = catalogue.example_data(Sample)

    assert data["order_public_id"].startswith("ord_")
    assert data["paid_fen"] == 25800
    assert isinstance(data["store_id"], int)
    assert data["inner"] == [{"credit_id": catalogue.example_value("credit_id", int)}]
    assert data["note"] == "gift wrap"
    assert catalogue.example_data(Sample) == data  # the same every run: the page is stable
