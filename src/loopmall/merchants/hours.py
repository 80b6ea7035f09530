"""Opening hours: how a person writes them, and the stored form.

Stored: ``{"mon": [["10:00", "22:00"]], "tue": [...], ...}``; a missing day is closed; an
interval may cross midnight (``["22:00", "02:00"]``). Written (forms, CSV imports):

- ``10:00-22:00`` — every day
- ``mon-fri 10:00-22:00; sat,sun 09:00-23:00`` — by day, ``;`` between groups
- ``周一至周五 10:00-22:00；周六,周日 09:00-23:00`` — the same in Chinese
- ``24h`` / ``全天`` — always open; empty — not given (no hours shown)
"""

from __future__ import annotations

import re
from datetime import datetime

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CN_DAYS = {
    "周一": "mon",
    "周二": "tue",
    "周三": "wed",
    "周四": "thu",
    "周五": "fri",
    "周六": "sat",
    "周日": "sun",
    "周天": "sun",
    "星期一": "mon",
    "星期二": "tue",
    "星期三": "wed",
    "星期四": "thu",
    "星期五": "fri",
    "星期六": "sat",
    "星期日": "sun",
    "星期天": "sun",
}
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$|^24:00$")
_INTERVAL = re.compile(r"(\d{1,2}:\d{2})\s*[-~～–至到]\s*(\d{1,2}:\d{2})")


class OpeningHoursError(ValueError):
    """The text or mapping does not describe opening hours."""


def _norm_time(value: str) -> str:
    value = value.strip()
    if not _TIME.match(value):
        raise OpeningHoursError(f"not a time of day: {value!r}")
    hours, minutes = value.split(":")
    return f"{int(hours):02d}:{minutes}"


def _day(token: str) -> str:
    token = token.strip().lower()
    if token in DAYS:
        return token
    if token in _CN_DAYS:
        return _CN_DAYS[token]
    raise OpeningHoursError(f"not a day of the week: {token!r}")


def _days(spec: str) -> list[str]:
    out: list[str] = []
    for part in re.split(r"[,，、/]", spec):
        part = part.strip()
        if not part:
            continue
        bounds = re.split(r"\s*(?:-|至|到|~|～)\s*", part)
        if len(bounds) == 2:
            start, end = DAYS.index(_day(bounds[0])), DAYS.index(_day(bounds[1]))
            if end < start:
                raise OpeningHoursError(f"day range runs backwards: {part!r}")
            out.extend(DAYS[start : end + 1])
        elif len(bounds) == 1:
            out.append(_day(bounds[0]))
        else:
            raise OpeningHoursError(f"not a day range: {part!r}")
    return out


def parse(text: str) -> dict[str, list[list[str]]]:
    """Parse written opening hours into the stored mapping. Raises ``OpeningHoursError``."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.lower() in {"24h", "24小时", "全天"}:
        return {day: [["00:00", "24:00"]] for day in DAYS}
    result: dict[str, list[list[str]]] = {}
    for group in re.split(r"[;；\n]", text):
        group = group.strip()
        if not group:
            continue
        intervals = [[_norm_time(a), _norm_time(b)] for a, b in _INTERVAL.findall(group)]
        if not intervals:
            raise OpeningHoursError(f"no hours like 10:00-22:00 in {group!r}")
        day_spec = _INTERVAL.sub("", group).strip().strip(":：").strip()
        days = _days(day_spec) if day_spec else list(DAYS)
        for day in days:
            result.setdefault(day, []).extend(intervals)
    return validate(result)


def validate(hours: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
    """Check and normalise a stored mapping. Raises ``OpeningHoursError``."""
    if not isinstance(hours, dict):
        raise OpeningHoursError("opening hours must be a mapping of day to intervals")
    clean: dict[str, list[list[str]]] = {}
    for day, intervals in hours.items():
        if day not in DAYS:
            raise OpeningHoursError(f"not a day of the week: {day!r}")
        if not isinstance(intervals, list):
            raise OpeningHoursError(f"{day}: intervals must be a list")
        out = []
        for interval in intervals:
            if not isinstance(interval, list | tuple) or len(interval) != 2:
                raise OpeningHoursError(f"{day}: each interval is [open, close]")
            start, end = (_norm_time(str(v)) for v in interval)
            if start == end:
                raise OpeningHoursError(f"{day}: opening and closing at the same time")
            out.append([start, end])
        clean[day] = sorted(out)
    return clean


def is_open(hours: dict[str, list[list[str]]], when: datetime) -> bool:
    """Whether a store with these hours is open at local time ``when``."""
    day = DAYS[when.weekday()]
    prev = DAYS[(when.weekday() - 1) % 7]
    now = when.strftime("%H:%M")
    for start, end in hours.get(day, []):
        if start < end and start <= now < end:
            return True
        if end < start and now >= start:  # crosses midnight, evening part
            return True
    return any(end < start and now < end for start, end in hours.get(prev, []))


def describe(hours: dict[str, list[list[str]]]) -> str:
    """The stored mapping written back in the short form ``parse`` reads."""
    if not hours:
        return ""
    groups: list[tuple[list[str], str]] = []
    for day in DAYS:
        spans = ",".join(f"{a}-{b}" for a, b in hours.get(day, []))
        if not spans:
            continue
        if (
            groups
            and groups[-1][1] == spans
            and DAYS.index(groups[-1][0][-1]) + 1 == DAYS.index(day)
        ):
            groups[-1][0].append(day)
        else:
            groups.append(([day], spans))
    if len(groups) == 1 and len(groups[0][0]) == 7:
        return groups[0][1].replace(",", " ")
    parts = []
    for days, spans in groups:
        label = days[0] if len(days) == 1 else f"{days[0]}-{days[-1]}"
        parts.append(f"{label} {spans.replace(',', ' ')}")
    return "; ".join(parts)
