"""The rating app's texts: one catalogue per language (``locales/<code>.json``), so a new
language is a new file with the same keys as ``en.json``.

A catalogue maps keys to texts with ``{name}`` placeholders; its ``twin`` section translates
the words a twin's view is written in (quantity names, units, facts), which stay as the twin
wrote them when a catalogue has no entry. The language of a page is the rater's choice (the
switch in the header, a cookie), else the study's (``fairtwin serve --lang``), else the
browser's ``Accept-Language`` when the study leaves it open (``auto``), else English.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from fairtwin.exceptions import UnknownNameError

__all__ = ["Catalogue", "catalogue", "languages", "negotiate", "DEFAULT_LANGUAGE"]

DEFAULT_LANGUAGE = "en"


@cache
def languages() -> tuple[str, ...]:
    """The language codes with a catalogue (``en`` first)."""
    codes = sorted(p.name.removesuffix(".json")
                   for p in (resources.files("fairtwin.elicit") / "locales").iterdir()
                   if p.name.endswith(".json"))
    return tuple(sorted(codes, key=lambda c: c != DEFAULT_LANGUAGE))


class Catalogue:
    """The texts of one language."""

    def __init__(self, code: str, texts: dict[str, str], twin: dict[str, str]) -> None:
        self.code = code
        self.texts = texts
        self.twin = twin

    def __call__(self, name: str, /, **values: object) -> str:
        """The text of ``name`` with its placeholders filled (the key itself when missing, so
        a gap shows instead of failing a page)."""
        text = self.texts.get(name, name)
        return text.format(**values) if values else text

    def word(self, text: str) -> str:
        """A twin's word in this language (as written when the catalogue has none)."""
        return self.twin.get(text, text)


@cache
def catalogue(code: str) -> Catalogue:
    """The catalogue of language ``code``."""
    if code not in languages():
        raise UnknownNameError("language", code, list(languages()))
    raw = json.loads((resources.files("fairtwin.elicit") / "locales" / f"{code}.json")
                     .read_text(encoding="utf-8"))
    twin = raw.pop("twin", {})
    return Catalogue(code, raw, twin)


def negotiate(accept_language: str | None) -> str | None:
    """The best catalogue for an ``Accept-Language`` header (None: no match)."""
    ranked: list[tuple[float, int, str]] = []
    for k, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag:
            ranked.append((-q, k, tag.split("-")[0].lower()))
    for q, _, code in sorted(ranked):
        if q < 0 and code in languages():
            return code
    return None
