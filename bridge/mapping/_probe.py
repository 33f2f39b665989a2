"""Native paths of a mapping tried on the bureau's native forms, for the check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml import etree

from bridge.mapping._native import NativeForm, describe, leaves
from bridge.mapping._spec import FieldSpec, InboundSpec, ListSpec, OutboundSpec

_COLUMN = re.compile(r"\[@name='([^']*)'\]")


@dataclass
class Miss:
    """A native path that some native forms lack."""

    where: str
    path: str
    labels: list[str]

    def message(self, total: int) -> str:
        """What is wrong, naming the column when the path names one."""
        names = _COLUMN.findall(self.path)
        where = "any native form" if len(self.labels) == total else self.labels[0]
        if len(self.labels) > 1 and len(self.labels) != total:
            where += f" (and {len(self.labels) - 1} more)"
        if names:
            return f"column {names[-1]!r} ({self.path}) is not in {where}"
        return f"native path {self.path!r} is not in {where}"


@dataclass
class Coverage:
    """How many data fields of one native form some path of the mapping reads."""

    system: str
    label: str
    mapped: int
    total: int
    unmapped: list[str] = field(default_factory=list)


class Probe:
    """Tries every native path of one system's specs on each of its native forms."""

    def __init__(self, system: str, forms: list[NativeForm]) -> None:
        self.system = system
        self.forms = forms
        self.misses: dict[tuple[str, str], Miss] = {}
        self.touched: dict[str, set[etree._Element]] = {f.label: set() for f in forms}

    def inbound(self, spec: InboundSpec) -> None:
        """Try the record key, conditions, documents and lists of an inbound kind."""
        for form in self.forms:
            root = form.root
            if spec.record:
                self._try(form, [root], spec.record, spec.where)
            if spec.skip is not None:
                self._try(form, [root], spec.skip.path, spec.skip.where)
            for document in spec.documents:
                if document.when is not None:
                    self._try(form, [root], document.when.path, document.when.where)
                contexts = [root]
                if document.each:
                    contexts = self._try(form, [root], document.each, document.where)
                self._fields(form, contexts, document.fields)
                for list_spec in document.lists:
                    self._list(form, contexts, list_spec)

    def outbound(self, spec: OutboundSpec) -> None:
        """Try the native targets of an outbound kind (its call parameters aside)."""
        for form in self.forms:
            for field_spec in spec.fields:
                self._try(form, [form.root], field_spec.target, field_spec.where)
            for list_spec in spec.lists:
                self._list(form, [form.root], list_spec, targets=True)

    def coverage(self) -> list[Coverage]:
        """Per native form: its data fields, and how many the mapping touches."""
        found = []
        for form in self.forms:
            all_leaves = leaves(form.root)
            touched = self.touched[form.label]
            unmapped = [describe(form.root, e) for e in all_leaves if e not in touched]
            mapped = len(all_leaves) - len(unmapped)
            found.append(
                Coverage(self.system, form.label, mapped, len(all_leaves), unmapped)
            )
        return found

    def missing(self) -> Iterator[tuple[str, str]]:
        """(where, message) for every native path some form lacks."""
        for miss in self.misses.values():
            yield miss.where, miss.message(len(self.forms))

    def _fields(
        self, form: NativeForm, contexts: list[etree._Element], fields: list[FieldSpec]
    ) -> None:
        for spec in fields:
            for path in spec.sources if spec.sources else []:
                self._try(form, contexts, path, spec.where)

    def _list(
        self,
        form: NativeForm,
        contexts: list[etree._Element],
        spec: ListSpec,
        targets: bool = False,
    ) -> None:
        if targets:
            items = self._try(form, contexts, spec.target, spec.where)
            for field_spec in spec.fields:
                self._try(form, items, field_spec.target, field_spec.where)
            return
        items = self._try(form, contexts, spec.over, spec.where)
        self._fields(form, items, spec.fields)

    def _try(
        self,
        form: NativeForm,
        contexts: list[etree._Element],
        path: str,
        where: str,
    ) -> list[etree._Element]:
        found = _find(form.root, contexts, path)
        if not found and contexts:
            miss = self.misses.setdefault((where, path), Miss(where, path, []))
            miss.labels.append(form.label)
        for element in found:
            self.touched[form.label].update(element.iter())
        return found


def _find(
    root: etree._Element, contexts: list[etree._Element], path: str
) -> list[etree._Element]:
    head, _, last = path.rpartition("/")
    elements_path = head if last.startswith("@") else path
    if path.startswith("@"):
        elements_path = ""
    found: list[etree._Element] = []
    for context in [root] if path.startswith("/") else contexts:
        relative = elements_path.lstrip("/")
        found.extend(context.findall(relative) if relative else [context])
    return found
