"""Content negotiation: Content-Type spellings, and the output type an Accept header asks for."""

from __future__ import annotations

import functools

from container.codecs.encoders import ENCODERS
from container.contract import MEDIA_TYPE_ALIASES
from container.errors import NotAcceptable


# Headers repeat from request to request: remember the last few answers (bounded, since header
# values come from clients). Errors are not cached: they are raised again each time.
@functools.lru_cache(maxsize=64)
def normalize_media_type(value: str) -> str:
    media_type = value.split(";", 1)[0].strip().lower()
    return MEDIA_TYPE_ALIASES.get(media_type, media_type)


@functools.lru_cache(maxsize=64)
def choose_accept(accept: str | None, default: str) -> str:
    """Pick the output type from an Accept header (q-values honoured); 406 if none fits."""
    if not accept or not accept.strip():
        return default
    ranges = []
    for position, item in enumerate(accept.split(",")):
        media_type = normalize_media_type(item)
        quality = _quality(item)
        if media_type and quality > 0:
            ranges.append((-quality, position, media_type))
    for _, _, media_type in sorted(ranges):
        if media_type in ENCODERS:
            return media_type
        if media_type == "*/*" or (
            media_type.endswith("/*") and default.startswith(media_type[:-1])
        ):
            return default
        if media_type.endswith("/*"):
            match = next((m for m in ENCODERS if m.startswith(media_type[:-1])), None)
            if match:
                return match
    raise NotAcceptable(accept.strip()[:200], list(ENCODERS))


def _quality(item: str) -> float:
    for param in item.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0
