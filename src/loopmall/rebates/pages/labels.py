"""Words the commission pages show for roles, kinds, statuses and problems (translated)."""

from __future__ import annotations

from typing import Any


def labels(_: Any) -> dict[str, dict[str, str]]:
    return {
        "role": {
            "store": _("Store"),
            "guide": _("Shopping guide"),
            "sharer": _("Distributor (level 1)"),
            "upstream_sharer": _("Distributor (level 2)"),
            "placement": _("Poster placement"),
        },
        "kind": {"earning": _("Commission"), "clawback": _("Clawed back (refund)")},
        "earner": {"store": _("Store"), "staff": _("Staff"), "customer": _("Customer")},
        "distributor": {
            "pending": _("Waiting for approval"),
            "approved": _("Approved"),
            "rejected": _("Rejected"),
            "revoked": _("Revoked"),
        },
        "policy": {
            "everyone": _("Every customer who shares"),
            "approved": _("Approved distributors only"),
        },
        "notice": {
            "rules_saved": _("The commission rules are saved."),
            "distributor_saved": _("The distributor is updated."),
        },
    }


def error_message(_: Any, code: str) -> str:
    """The sentence for a problem code a form ran into ("" for none)."""
    if not code:
        return ""
    return {
        "commission_rules_over_100": _("The rates add up to more than 100 %. Nothing was saved."),
        "validation_failed": _("Check the values: rates are percentages, the cap is in yuan."),
        "settlement_period_open": _("That period has not ended yet."),
        "settlement_out_of_order": _("A later period has been settled already."),
        "settlement_in_progress": _("This period is being settled right now; try again."),
        "illegal_distributor_transition": _("That change is not possible for this distributor."),
    }.get(code, _("Something went wrong. Try again."))
