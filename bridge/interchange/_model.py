"""The content model the interchange XSDs declare, read with lxml alone.

The running bridge needs two things from the schemas besides validation: what
each element path holds (required, repeated, simple, its type and code list),
for the mapping check at start, and the order of each element's children, for
putting a document in schema order. Both come from the XSD files themselves.
The interchange schemas keep to a small part of XSD (named and anonymous
types, sequences and choices, element references, simple restrictions of
built-in types), and a construct outside that part is refused by name rather
than read wrongly.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from bridge.errors import ConfigError

XS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS}}}"

#: built-in types derived from a primitive, and that primitive
_DERIVED = {
    **dict.fromkeys(
        ("normalizedString", "token", "language", "Name", "NCName", "ID", "NMTOKEN"),
        "string",
    ),
    **dict.fromkeys(
        (
            "integer",
            "nonPositiveInteger",
            "negativeInteger",
            "long",
            "int",
            "short",
            "byte",
            "nonNegativeInteger",
            "unsignedLong",
            "unsignedInt",
            "unsignedShort",
            "unsignedByte",
            "positiveInteger",
        ),
        "decimal",
    ),
}
_PRIMITIVES = frozenset(
    (
        "string",
        "boolean",
        "decimal",
        "float",
        "double",
        "duration",
        "dateTime",
        "time",
        "date",
        "gYearMonth",
        "gYear",
        "gMonthDay",
        "gDay",
        "gMonth",
        "hexBinary",
        "base64Binary",
        "anyURI",
        "QName",
        "NOTATION",
    )
)
#: attributes of an element declaration the reader does not apply
_UNREAD_ELEMENT_ATTRIBUTES = ("form", "substitutionGroup", "abstract")
#: schema children that say nothing about content
_SILENT = frozenset((f"{_XS}annotation", f"{_XS}include"))
#: what a simple restriction may hold; of its facets only enumeration matters here
_FACETS = _SILENT | frozenset(
    f"{_XS}{name}"
    for name in (
        "enumeration",
        "pattern",
        "length",
        "minLength",
        "maxLength",
        "minInclusive",
        "maxInclusive",
        "minExclusive",
        "maxExclusive",
        "totalDigits",
        "fractionDigits",
        "whiteSpace",
    )
)


@dataclass(frozen=True)
class Declared:
    """One element as its schema declares it, with its children in order."""

    tag: str  # Clark notation
    required: bool  # minOccurs of its own declaration is 1 or more
    repeated: bool
    simple: bool
    kind: str = ""  # the primitive XSD type of a simple element
    codes: tuple[str, ...] = ()
    type_name: str = ""  # the named type of its content, if any

    @property
    def name(self) -> str:
        return etree.QName(self.tag).localname


class ContentModel:
    """Global elements and types of the XSD files in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.namespace = ""
        self._elements: dict[str, etree._Element] = {}
        self._types: dict[str, etree._Element] = {}
        for index, path in enumerate(sorted(folder.glob("*.xsd"))):
            self._read(path, first=index == 0)
        self._children: dict[str, tuple[Declared, ...]] = {}
        self._orders: dict[str, dict[str, tuple[int, Declared]]] = {}

    def declares(self, name: str) -> bool:
        """Whether a file of the folder declares the global element ``name``."""
        return name in self._elements

    def element(self, name: str) -> Declared:
        """The global element ``name``."""
        node = self._elements.get(name)
        if node is None:
            raise ConfigError(f"{self.folder}: no global element {name!r}")
        return self._declared(node, top=True)

    def children(self, declared: Declared) -> tuple[Declared, ...]:
        """The child elements ``declared`` may hold, in schema order."""
        known = self._children.get(declared.type_name)
        if known is None:
            known = self._content(declared)
            self._children[declared.type_name] = known
        return known

    def order(self, declared: Declared) -> dict[str, tuple[int, Declared]]:
        """``declared``'s children by tag, with their place in schema order."""
        known = self._orders.get(declared.type_name)
        if known is None:
            children = self.children(declared)
            known = {child.tag: (index, child) for index, child in enumerate(children)}
            self._orders[declared.type_name] = known
        return known

    def _read(self, path: Path, first: bool) -> None:
        """Every file of the folder is one schema: one target namespace,
        qualified local elements, each name defined once."""
        root = etree.parse(str(path)).getroot()
        if root.get("elementFormDefault") != "qualified":
            raise self._refused(root, 'without elementFormDefault="qualified"')
        namespace = root.get("targetNamespace", "")
        if not first and namespace != self.namespace:
            raise self._refused(root, f"with a second targetNamespace {namespace!r}")
        self.namespace = namespace
        for node in root:
            if not isinstance(node.tag, str) or node.tag in _SILENT:
                continue
            name = node.get("name")
            if node.tag == f"{_XS}element" and name:
                known = self._elements
            elif node.tag in (f"{_XS}complexType", f"{_XS}simpleType") and name:
                known = self._types
            else:
                raise self._refused(node)
            if name in known:
                raise ConfigError(
                    f"{_where(node)}: {name!r} is defined twice "
                    f"(first in {_where(known[name])})"
                )
            known[name] = node

    def _refused(self, node: etree._Element, how: str = "") -> ConfigError:
        construct = f"<xs:{etree.QName(node).localname}>" + (f" {how}" if how else "")
        return ConfigError(
            f"{_where(node)}: {construct} is outside the part of XSD the bridge "
            "reads its content model from"
        )

    def _declared(self, node: etree._Element, top: bool = False) -> Declared:
        for attribute in _UNREAD_ELEMENT_ATTRIBUTES:
            if node.get(attribute) is not None:
                raise self._refused(node, f"with {attribute}")
        ref = node.get("ref")
        if ref is not None:
            target = self._elements.get(_local(ref))
            if target is None:
                raise ConfigError(f"{self.folder}: no global element for ref {ref!r}")
            declared = self._declared(target, top=True)
        else:
            declared = self._typed(node)
        if top and ref is None:
            return declared
        high = node.get("maxOccurs", "1")
        return dataclasses.replace(
            declared,
            required=self._count(node, "minOccurs") >= 1,
            repeated=high == "unbounded" or self._count(node, "maxOccurs") > 1,
        )

    def _count(self, node: etree._Element, attribute: str) -> int:
        value = node.get(attribute, "1")
        if not value.isdigit():
            raise self._refused(node, f"with {attribute}={value!r}")
        return int(value)

    def _typed(self, node: etree._Element) -> Declared:
        tag = f"{{{self.namespace}}}{node.get('name')}"
        type_ref = node.get("type")
        if type_ref is not None:
            prefix, _, local = type_ref.rpartition(":")
            if node.nsmap.get(prefix or None) == XS:
                return Declared(tag, True, False, True, _primitive(local, node))
            definition = self._types.get(local)
            if definition is None:
                raise ConfigError(f"{self.folder}: no type {type_ref!r}")
            name = local
        else:
            definition = next(
                (c for c in node if c.tag in (f"{_XS}complexType", f"{_XS}simpleType")),
                None,
            )
            if definition is None:  # no type at all: anyType
                return Declared(tag, True, False, False)
            # an anonymous type is known by where it is written
            place = definition.getroottree().getpath(definition)
            name = f"{tag}@{Path(definition.base or '').name}:{place}"
            self._types[name] = definition
        if definition.tag == f"{_XS}simpleType":
            kind, codes = self._simple(definition)
            return Declared(tag, True, False, True, kind, codes, name)
        return Declared(tag, True, False, False, type_name=name)

    def _simple(self, definition: etree._Element) -> tuple[str, tuple[str, ...]]:
        """The primitive type and the code list of a simple type definition."""
        restriction = self._restriction(definition)
        listed: list[str] = []
        for facet in restriction:
            if not isinstance(facet.tag, str):
                continue
            if facet.tag not in _FACETS:
                raise self._refused(facet)
            if facet.tag != f"{_XS}enumeration":
                continue
            value = facet.get("value", "")
            # a code list is compared as written: a value its type's
            # whitespace rules would change is not read
            if value != " ".join(value.split()):
                raise self._refused(facet, f"with the value {value!r}")
            listed.append(value)
        codes = tuple(listed)
        prefix, _, local = restriction.get("base", "").rpartition(":")
        if restriction.nsmap.get(prefix or None) == XS:
            kind = _primitive(local, restriction)
        else:
            base = self._types.get(local)
            if base is None or base.tag != f"{_XS}simpleType":
                raise self._refused(restriction)
            kind, inherited = self._simple(base)
            codes = codes or inherited
        if codes and kind != "string":
            # numbers and dates compare by value, not as written
            raise self._refused(restriction, f"listing values of xs:{kind}")
        return kind, codes

    def _restriction(self, definition: etree._Element) -> etree._Element:
        """The one content child of a simple type: its restriction."""
        inner = [
            c for c in definition if isinstance(c.tag, str) and c.tag not in _SILENT
        ]
        if len(inner) != 1 or inner[0].tag != f"{_XS}restriction":
            raise self._refused(inner[0] if inner else definition)
        return inner[0]

    def _content(self, declared: Declared) -> tuple[Declared, ...]:
        if declared.simple:
            return ()
        definition = self._types.get(declared.type_name)
        if definition is None:
            return ()
        found: list[Declared] = []
        self._particles(definition, found)
        return tuple(found)

    def _particles(self, group: etree._Element, found: list[Declared]) -> None:
        for node in group:
            if not isinstance(node.tag, str) or node.tag in _SILENT:
                continue
            if node.tag == f"{_XS}element":
                found.append(self._declared(node))
            elif node.tag in (f"{_XS}sequence", f"{_XS}choice"):
                # a group that is optional or repeats would change what its
                # elements' own occurrences say
                occurs = (node.get("minOccurs", "1"), node.get("maxOccurs", "1"))
                if occurs != ("1", "1"):
                    raise self._refused(node, "with minOccurs or maxOccurs")
                self._particles(node, found)
            else:
                raise self._refused(node)


def content_model(folder: str | Path) -> ContentModel:
    """The content model of the XSDs in ``folder``, read once per folder
    however its path is written (the validator and the mapping check share
    it)."""
    return _content_model(str(Path(folder).resolve()))


@functools.lru_cache(maxsize=8)
def _content_model(folder: str) -> ContentModel:
    return ContentModel(Path(folder))


def _local(qualified: str) -> str:
    return qualified.rpartition(":")[2]


def _where(node: etree._Element) -> str:
    """file:line of a schema node."""
    return f"{Path(node.base or '').name}:{node.sourceline}"


def _primitive(local: str, node: etree._Element) -> str:
    if local in _PRIMITIVES:
        return local
    primitive = _DERIVED.get(local)
    if primitive is None:
        raise ConfigError(
            f"{_where(node)}: built-in type xs:{local} is outside the part of XSD "
            "the bridge reads"
        )
    return primitive
