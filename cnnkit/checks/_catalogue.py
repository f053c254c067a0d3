"""The catalogue of known mistakes, read from ``catalogue.json`` beside this file.

The file is data only: for each mistake its id, function, assignment, title and lecture section,
and what a function making it returns on each fixed case of the checks that can see it (see
:func:`cnnkit.checks._core.summarize`). It is written by the instructor's
``instructor/build_catalogue.py`` from mutants that never ship with the package (each is a
solution with one mistake); a test rebuilds it and fails when it is out of date.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from ._mistake import Mistake

FILE = "catalogue.json"
FORMAT = 1


@dataclass(frozen=True)
class Catalogue:
    """The mistakes, and per mistake id and per check (function name) the stored outcome of each
    case (None where the case was not run); ``fingerprints`` identify the cases they were run on."""

    mistakes: tuple[Mistake, ...]
    observed: dict[str, dict[str, list[dict | None]]]
    fingerprints: dict[str, str]


def parse(text: str) -> Catalogue:
    """The catalogue from the file's text; ValueError for another format."""
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"{FILE}: format {data.get('format')!r}, expected {FORMAT}: rebuild it with "
                         "python instructor/build_catalogue.py")
    mistakes, observed = [], {}
    for entry in data["mistakes"]:
        mistakes.append(Mistake(entry["id"], entry["function"], entry["assignment"], entry["title"],
                                entry["lecture"]))
        observed[entry["id"]] = entry["observed"]
    return Catalogue(tuple(mistakes), observed, dict(data["fingerprints"]))


@lru_cache(maxsize=1)
def load() -> Catalogue:
    """The installed catalogue (read once)."""
    return parse(resources.files(__package__).joinpath(FILE).read_text(encoding="utf-8"))
