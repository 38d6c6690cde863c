"""Rendering pages with Jinja2: autoescaped templates shipped in ``reports/templates``.

Everything that comes from the system under test (names, ids, prefixes, errors) goes through
autoescaping; only the SVG that matplotlib wrote (and escaped itself) is inserted as markup.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import jinja2

from ackguard.reports import words

__all__ = ["digest", "render_template"]


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("ackguard.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )
    environment.filters.update(
        number=words.number,
        seconds=words.seconds,
        duration=words.duration,
        wall=words.wall,
        percent=words.percent,
        practice=words.practice,
        digest=digest,
    )
    return environment


def render_template(name: str, context: Mapping[str, Any]) -> str:
    return _environment().get_template(name).render(context)


def digest(value: Mapping[str, Any] | None) -> str:
    """A field as the history keeps it: its length and the first characters, quoted."""
    if value is None:
        return "absent"
    length = value.get("length")
    prefix = str(value.get("prefix", ""))
    more = "…" if isinstance(length, int) and length > len(prefix) else ""
    size = f"{length:,} chars" if isinstance(length, int) else "? chars"
    return f"{size} «{prefix}{more}»"
