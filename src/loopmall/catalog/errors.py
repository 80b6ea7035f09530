"""The catalog's errors, each with its stable code."""

from __future__ import annotations

from loopmall.core.errors import PayloadTooLarge, UnsupportedMediaType, ValidationFailed


class NotSoldInChannel(ValidationFailed):
    code = "not_sold_in_channel"
    title = "This item is not sold in that channel"


class NotForSale(ValidationFailed):
    code = "not_for_sale"
    title = "This item is not on sale"


class OptionsMismatch(ValidationFailed):
    code = "options_mismatch"
    title = "A SKU's options must name exactly the product's option names"


class DuplicateSkuOptions(ValidationFailed):
    code = "duplicate_sku_options"
    title = "Two SKUs of one product cannot have the same options"
    message = "SKUs %(first)s and %(second)s have the same options"


class DuplicateSkuCode(ValidationFailed):
    code = "duplicate_sku_code"
    title = "This SKU code is already used"
    message = "SKU code %(sku_code)s is already used"


class SkuCodeRepeated(DuplicateSkuCode):
    """One code given to two SKUs of the same request (same code, its own sentence)."""

    message = "SKU code %(sku_code)s is used twice"


class NoActiveSku(ValidationFailed):
    code = "no_active_sku"
    title = "A product on sale needs at least one SKU on sale"


class OptionNamesFixed(ValidationFailed):
    code = "option_names_fixed"
    title = "Options can be renamed, but not added or removed, once a product has SKUs"
    message = "This product has %(option_count)s option(s); rename them, or create a new product"


class CategoryCycle(ValidationFailed):
    code = "category_cycle"
    title = "A category cannot be placed under itself"


class ImageOrderMismatch(ValidationFailed):
    code = "image_order_mismatch"
    title = "The new order must list every image of the product exactly once"


class UploadTooLarge(PayloadTooLarge):
    code = "upload_too_large"
    title = "The upload is too large"
    message = "The file is over %(max_bytes)s bytes"


class ImageTooManyPixels(UploadTooLarge):
    """Small in bytes but too many pixels to decode safely (same code, its own sentence)."""

    message = "The image has more than %(max_pixels)s pixels"


class NotAnImage(UnsupportedMediaType):
    code = "not_an_image"
    title = "The file is not a PNG, JPEG, WebP or GIF image"
