"""What the interchange XSDs say about each path: required, repeated, type, codes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from bridge.interchange import KINDS
from bridge.interchange._model import ContentModel, Declared, content_model
from bridge.paths import schemas_dir as default_schemas_dir


@dataclass(frozen=True)
class Slot:
    """One element of an interchange document, as its schema declares it."""

    path: str
    required: bool
    repeated: bool
    simple: bool
    kind: str = ""
    codes: tuple[str, ...] = ()


def document_slots(name: str, schemas_dir: Path | None = None) -> dict[str, Slot]:
    """Every element path below the root of interchange document ``name``."""
    base = (schemas_dir or default_schemas_dir()).resolve()
    return dict(_slots(name, str(base)))


def documents(schemas_dir: Path | None = None) -> tuple[str, ...]:
    """The names of the interchange documents whose schema is in place."""
    model = content_model(_version_folder(schemas_dir))
    return tuple(name for name in KINDS if model.declares(name))


def _version_folder(schemas_dir: Path | None) -> Path:
    return (schemas_dir or default_schemas_dir()) / "interchange" / "1"


@functools.lru_cache(maxsize=16)
def _slots(name: str, base: str) -> tuple[tuple[str, Slot], ...]:
    model = content_model(_version_folder(Path(base)))
    found: list[tuple[str, Slot]] = []
    _walk(model, model.element(name), "", found)
    return tuple(found)


def _walk(
    model: ContentModel,
    declared: Declared,
    prefix: str,
    found: list[tuple[str, Slot]],
) -> None:
    for child in model.children(declared):
        path = prefix + child.name
        slot = Slot(
            path=path,
            required=child.required,
            repeated=child.repeated,
            simple=child.simple,
            kind=child.kind,
            codes=child.codes,
        )
        found.append((path, slot))
        if not child.simple:
            _walk(model, child, path + "/", found)
