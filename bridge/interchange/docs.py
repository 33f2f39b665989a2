"""An HTML reference of the interchange standard, generated from its XSDs."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

XS = "{http://www.w3.org/2001/XMLSchema}"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ROOT_OWNER = "(document)"

STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #bbb; padding: 0.2em 0.5em; vertical-align: top; }
th { background: #eee; text-align: left; }
code { font-size: 95%; }
"""


@dataclass(frozen=True)
class Gloss:
    """The Chinese and English documentation of one declaration."""

    zh: str
    en: str


@dataclass(frozen=True)
class ElementDoc:
    """One element declaration: where it is declared and what it holds."""

    owner: str
    name: str
    type: str
    cardinality: str
    gloss: Gloss


@dataclass(frozen=True)
class TypeDoc:
    """One named type, with its elements or its code values and facets."""

    name: str
    kind: str
    gloss: Gloss
    base: str
    facets: list[tuple[str, str]]
    codes: list[tuple[str, Gloss]]


def gloss(node: etree._Element) -> Gloss:
    """The zh and en xs:documentation of ``node``'s own annotation."""
    texts = {
        doc.get(LANG): " ".join((doc.text or "").split())
        for doc in node.iterfind(f"{XS}annotation/{XS}documentation")
    }
    return Gloss(texts.get("zh", ""), texts.get("en", ""))


def cardinality(node: etree._Element) -> str:
    """minOccurs..maxOccurs, with * for unbounded; choice members say so."""
    low = node.get("minOccurs", "1")
    high = node.get("maxOccurs", "1").replace("unbounded", "*")
    parent = node.getparent()
    if parent is not None and parent.tag == f"{XS}choice":
        return f"{low}..{high} (one of a choice)"
    return f"{low}..{high}"


def _name(node: etree._Element) -> str:
    return node.get("name", "")


def _strip(qname: str | None) -> str:
    """A type or ref name without the gb: prefix; built-in types keep xs:."""
    name = qname or ""
    return name if name.startswith("xs:") else name.split(":")[-1]


def read_schemas(directory: Path) -> tuple[list[ElementDoc], list[TypeDoc]]:
    """Every element declaration and named type in the XSDs of ``directory``."""
    trees = [etree.parse(str(path)) for path in sorted(directory.glob("*.xsd"))]
    globals_ = {
        node.get("name"): node
        for tree in trees
        for node in tree.getroot().iterfind(f"{XS}element")
    }
    elements = [e for tree in trees for e in _elements(tree, globals_)]
    types = [t for tree in trees for t in _types(tree)]
    return elements, types


def _elements(
    tree: etree._ElementTree, globals_: dict[str | None, etree._Element]
) -> Iterator[ElementDoc]:
    for node in tree.getroot().iterfind(f"{XS}element"):
        yield ElementDoc(
            ROOT_OWNER, _name(node), _strip(node.get("type")), "1..1", gloss(node)
        )

    for owner in tree.getroot().iterfind(f"{XS}complexType"):
        for node in owner.iter(f"{XS}element"):
            target = globals_.get(_strip(node.get("ref"))) if node.get("ref") else node
            if target is None:
                continue
            yield ElementDoc(
                _name(owner),
                _name(target),
                _strip(target.get("type")),
                cardinality(node),
                gloss(target),
            )


def _types(tree: etree._ElementTree) -> Iterator[TypeDoc]:
    for node in tree.getroot():
        if node.tag not in (f"{XS}simpleType", f"{XS}complexType"):
            continue
        restriction = node.find(f"{XS}restriction")
        base = _strip(restriction.get("base")) if restriction is not None else ""
        facets: list[tuple[str, str]] = []
        codes: list[tuple[str, Gloss]] = []
        for facet in restriction if restriction is not None else []:
            if facet.tag == f"{XS}enumeration":
                codes.append((facet.get("value", ""), gloss(facet)))
            elif isinstance(facet.tag, str) and facet.tag.startswith(XS):
                facets.append((etree.QName(facet).localname, facet.get("value", "")))
        kind = "code table" if codes else etree.QName(node).localname
        yield TypeDoc(_name(node), kind, gloss(node), base, facets, codes)


def render(directory: Path, title: str) -> str:
    """The whole reference page as one HTML document."""
    elements, types = read_schemas(directory)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        _element_table("Documents (root elements)", ROOT_OWNER, elements),
    ]
    for kind in ("complexType", "code table", "simpleType"):
        parts.extend(_type_section(t, elements) for t in types if t.kind == kind)
    parts.append("</body></html>")
    return "\n".join(parts)


def _type_section(doc: TypeDoc, elements: list[ElementDoc]) -> str:
    head = (
        f'<section class="type" id="type-{_e(doc.name)}" data-kind="{_e(doc.kind)}">'
        f"<h2><code>{_e(doc.name)}</code> {_e(doc.gloss.zh)}</h2>"
        f"<p>{_e(doc.gloss.en)}</p>"
    )
    body = ""
    if doc.base:
        body += f'<p>Base type: <code class="base">{_e(doc.base)}</code></p>'
    if doc.facets:
        rows = "".join(
            f'<tr class="facet"><td>{_e(k)}</td><td><code>{_e(v)}</code></td></tr>'
            for k, v in doc.facets
        )
        body += (
            f'<table class="facets"><tr><th>facet</th><th>value</th></tr>{rows}</table>'
        )
    if doc.codes:
        body += _code_table(doc)
    if doc.kind == "complexType":
        body += _element_table("Elements, in order", doc.name, elements)
    return head + body + "</section>"


def _code_table(doc: TypeDoc) -> str:
    rows = "".join(
        f'<tr class="code" id="code-{_e(doc.name)}-{_e(value)}">'
        f'<td class="value"><code>{_e(value)}</code></td>'
        f'<td class="zh">{_e(g.zh)}</td><td class="en">{_e(g.en)}</td></tr>'
        for value, g in doc.codes
    )
    head = "<tr><th>code</th><th>中文</th><th>English</th></tr>"
    return f'<table class="codes" data-type="{_e(doc.name)}">{head}{rows}</table>'


def _element_table(caption: str, owner: str, elements: list[ElementDoc]) -> str:
    rows = "".join(
        f'<tr class="element" id="element-{_e(owner)}-{_e(el.name)}"'
        f' data-owner="{_e(owner)}">'
        f'<td class="name"><code>{_e(el.name)}</code></td>'
        f'<td class="zh">{_e(el.gloss.zh)}</td><td class="en">{_e(el.gloss.en)}</td>'
        f'<td class="type">{_type_link(el.type)}</td>'
        f'<td class="cardinality">{_e(el.cardinality)}</td></tr>'
        for el in elements
        if el.owner == owner
    )
    head = (
        "<tr><th>element</th><th>中文名</th><th>English</th><th>type</th>"
        "<th>cardinality</th></tr>"
    )
    return f'<h3>{_e(caption)}</h3><table class="elements">{head}{rows}</table>'


def _type_link(name: str) -> str:
    if name.startswith("xs:"):
        return f"<code>{_e(name)}</code>"
    return f'<a href="#type-{_e(name)}">{_e(name)}</a>'


def _e(text: str | None) -> str:
    return html.escape(text or "", quote=True)
