"""What the catalog's JSON routes share: documented problems and path parameters."""

from __future__ import annotations

from typing import Any

from fastapi import Path

from loopmall.catalog.schemas import PUBLIC_ID_PATTERN


def problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/problem+json": {}}}


READ_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem("Not logged in"),
    403: problem("The caller's role may not read the catalog"),
    404: problem("No such item for this merchant"),
}
WRITE_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem("Not logged in"),
    403: problem("The caller's role may not change the catalog"),
    404: problem("No such product, SKU, category or store for this merchant"),
    422: problem(
        "`validation_failed`, `options_mismatch`, `duplicate_sku_options`, "
        "`duplicate_sku_code`, `option_names_fixed`, `no_active_sku`, `category_cycle`, "
        "`idempotency_key_reused`; nothing was written"
    ),
}


def product_id_param() -> Any:
    return Path(..., pattern=PUBLIC_ID_PATTERN, description="Public id of the product")


def sku_id_param() -> Any:
    return Path(..., pattern=PUBLIC_ID_PATTERN, description="Public id of the SKU")
