"""What the interchange XSDs say about each path: required, repeated, type, codes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xmlschema

from bridge.interchange import KINDS
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
    base = (schemas_dir or default_schemas_dir()) / "interchange" / "1"
    return tuple(name for name in KINDS if _declaring(base, name) is not None)


def _declaring(folder: Path, name: str) -> Path | None:
    """The XSD in ``folder`` that declares the global element ``name``."""
    for path in sorted(folder.glob("*.xsd")):
        if f'<xs:element name="{name}"' in path.read_text(encoding="utf-8"):
            return path
    return None


@functools.lru_cache(maxsize=16)
def _slots(name: str, base: str) -> tuple[tuple[str, Slot], ...]:
    source = _declaring(Path(base) / "interchange" / "1", name)
    schema = xmlschema.XMLSchema(str(source), validation="skip")
    found: list[tuple[str, Slot]] = []
    _walk(schema.elements[name], "", found)
    return tuple(found)


def _walk(declaration: Any, prefix: str, found: list[tuple[str, Slot]]) -> None:
    content = getattr(declaration.type, "content", None)
    if content is None or not hasattr(content, "iter_elements"):
        return

    for child in content.iter_elements():
        path = prefix + child.local_name
        kind_type = child.type
        simple = bool(kind_type.is_simple())
        primitive = getattr(kind_type, "primitive_type", None) if simple else None
        slot = Slot(
            path=path,
            required=child.min_occurs >= 1,
            repeated=child.max_occurs is None or child.max_occurs > 1,
            simple=simple,
            kind=primitive.local_name if primitive is not None else "",
            codes=tuple(getattr(kind_type, "enumeration", None) or ()),
        )
        found.append((path, slot))
        if not simple:
            _walk(child, path + "/", found)
