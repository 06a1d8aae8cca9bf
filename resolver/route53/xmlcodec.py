"""Route 53's XML, both ways, driven by the model table in `shapes`.

Requests: `parse_body` reads a request body into botocore's input shape (member names,
ints, bools, lists), refusing DTDs and entity declarations outright (no entity expansion,
whatever the document's encoding: expat reports the declaration before any expansion) and
anything the model does not name. `render` writes an output shape the way botocore's
parser reads it, and `render_error` writes the ErrorResponse every client maps to its
exception classes.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from xml.parsers import expat

from resolver.route53 import shapes
from resolver.route53.errors import Route53Error

# Route 53 bounds a change batch at 32,000 value characters and 1,000 records; a body of
# that size is far below this, so a larger one is refused unread.
MAX_BODY_BYTES = 1 << 20
_INTEGER = re.compile(r"[+-]?[0-9]{1,19}")
# Characters XML 1.0 cannot carry, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class _Node:
    """One element: local name, children, text (character data directly inside)."""

    __slots__ = ("children", "name", "text")

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: list[_Node] = []
        self.text: list[str] = []


def _invalid(message: str) -> Route53Error:
    return Route53Error.invalid_input(f"Invalid XML ; {message}")


def _refuse_dtd(*_args: object) -> None:
    raise _invalid("DTDs and entity declarations are not accepted")


def _refuse_external(
    _context: str, _base: str | None, _system_id: str | None, _public_id: str | None
) -> int:
    raise _invalid("external entities are not accepted")


def _parse_tree(body: bytes) -> _Node:
    """Parse with expat directly, so a DOCTYPE is refused whatever the encoding."""
    if len(body) > MAX_BODY_BYTES:
        raise Route53Error.invalid_input(f"Request body exceeds {MAX_BODY_BYTES} bytes")
    lowered = body.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        _refuse_dtd()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_external
    stack: list[_Node] = []
    roots: list[_Node] = []

    def start(name: str, _attrs: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(" ")
        if namespace not in ("", shapes.NAMESPACE):
            raise _invalid(f"element {local} is in namespace {namespace!r}")
        node = _Node(local)
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)

    def end(_name: str) -> None:
        stack.pop()

    def text(data: str) -> None:
        if stack:
            stack[-1].text.append(data)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    try:
        parser.Parse(body, True)
    except expat.ExpatError as error:
        raise _invalid(str(error)) from None
    if len(roots) != 1:
        raise _invalid("expected one root element")
    return roots[0]


def scalar(kind: str, text: str, where: str) -> Any:
    """A scalar from its text form (XML text or a query parameter), typed by the model."""
    if kind == "string":
        return text
    if kind in ("integer", "long"):
        stripped = text.strip()
        if not _INTEGER.fullmatch(stripped):
            raise Route53Error.invalid_input(f"{where}: {text!r} is not an integer")
        return int(stripped)
    if kind == "boolean":
        lowered = text.strip()
        if lowered not in ("true", "false"):
            raise Route53Error.invalid_input(f"{where}: {text!r} is not true or false")
        return lowered == "true"
    if kind == "double":
        try:
            number = float(text)
        except ValueError:
            raise Route53Error.invalid_input(f"{where}: {text!r} is not a number") from None
        if not math.isfinite(number):
            raise Route53Error.invalid_input(f"{where}: {text!r} is not a finite number")
        return number
    if kind == "timestamp":
        try:
            return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            raise Route53Error.invalid_input(f"{where}: {text!r} is not a timestamp") from None
    raise AssertionError(f"unknown scalar type {kind}")


def _read(shape: str, node: _Node, where: str) -> Any:
    if shape in shapes.SCALARS:
        if node.children:
            raise _invalid(f"{where} holds elements where text belongs")
        return scalar(shapes.SCALARS[shape], "".join(node.text), where)
    if shape in shapes.LISTS:
        member_shape, member_name = shapes.LISTS[shape]
        items = []
        for child in node.children:
            if child.name != member_name:
                raise _invalid(f"{where} holds {child.name}, expected {member_name}")
            items.append(_read(member_shape, child, f"{where}.{member_name}"))
        return items
    return _read_structure(shape, node, where, body_only=False)


def _read_structure(shape: str, node: _Node, where: str, body_only: bool) -> dict[str, Any]:
    members = {
        xml_name: (member, member_shape)
        for member, member_shape, xml_name, location in shapes.STRUCTURES[shape]
        if not (body_only and location)
    }
    if "".join(node.text).strip():
        raise _invalid(f"{where} holds text where elements belong")
    out: dict[str, Any] = {}
    for child in node.children:
        if child.name not in members:
            raise _invalid(f"{where} has no element {child.name}")
        member, member_shape = members[child.name]
        if member in out:
            raise _invalid(f"{where} has {child.name} twice")
        out[member] = _read(member_shape, child, f"{where}.{child.name}")
    return out


def parse_body(operation: str, body: bytes) -> dict[str, Any]:
    """The XML body members of `operation`'s input, in botocore's input shape."""
    _method, _uri, input_shape, root_name, _output, _status = shapes.OPERATIONS[operation]
    if not root_name:
        return {}
    if not body.strip():
        raise Route53Error.invalid_input(f"{operation} needs a {root_name} body")
    root = _parse_tree(body)
    if root.name != root_name:
        raise _invalid(f"{root.name} is not valid, expected {root_name}")
    return _read_structure(input_shape, root, root_name, body_only=True)


def _timestamp(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if not isinstance(value, datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _text(kind: str, value: Any, where: str) -> str:
    if kind == "boolean":
        if not isinstance(value, bool):
            raise TypeError(f"{where}: not a bool: {value!r}")
        return "true" if value else "false"
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where}: not an int: {value!r}")
        return str(value)
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"{where}: not a number: {value!r}")
        return repr(float(value))
    if kind == "timestamp":
        return _timestamp(value)
    if not isinstance(value, str):
        raise TypeError(f"{where}: not a str: {value!r}")
    # XML 1.0 cannot carry these at all; Route 53's values never hold them raw (TXT
    # values are escaped presentation text), so a stray one is replaced, not sent.
    return _NOT_XML.sub("\ufffd", value)


def _write(parent: ET.Element, name: str, shape: str, value: Any, where: str) -> None:
    element = ET.SubElement(parent, name)
    if shape in shapes.SCALARS:
        element.text = _text(shapes.SCALARS[shape], value, where)
    elif shape in shapes.LISTS:
        member_shape, member_name = shapes.LISTS[shape]
        if not isinstance(value, list | tuple):
            raise TypeError(f"{where}: not a list: {value!r}")
        for item in value:
            _write(element, member_name, member_shape, item, f"{where}.{member_name}")
    else:
        _write_members(element, shape, value, where)


def _write_members(element: ET.Element, shape: str, value: Any, where: str) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{where}: not a mapping: {value!r}")
    members = shapes.STRUCTURES[shape]
    known = {member for member, _, _, _ in members}
    unknown = set(value) - known
    if unknown:
        raise TypeError(f"{where}: {shape} has no member(s) {sorted(unknown)}")
    for member, member_shape, xml_name, location in members:
        item = value.get(member)
        if item is None or location:
            continue
        _write(element, xml_name, member_shape, item, f"{where}.{member}")


def render(operation: str, result: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for `operation`'s output; TypeError if it does not fit."""
    _method, _uri, _input, _root, output_shape, status = shapes.OPERATIONS[operation]
    headers = {}
    for member, member_shape, xml_name, location in shapes.STRUCTURES[output_shape]:
        if location == "header" and result.get(member) is not None:
            headers[xml_name] = _text(shapes.SCALARS[member_shape], result[member], member)
    root = ET.Element(output_shape, xmlns=shapes.NAMESPACE)
    _write_members(root, output_shape, result, output_shape)
    return status, headers, ET.tostring(root, encoding="utf-8", xml_declaration=True)


def render_error(error: Route53Error, request_id: str) -> bytes:
    """Route 53's ErrorResponse. InvalidChangeBatch lists every message as Route 53 does
    (`[first, second]`), which botocore puts in the exception's message."""
    root = ET.Element("ErrorResponse", xmlns=shapes.NAMESPACE)
    inner = ET.SubElement(root, "Error")
    ET.SubElement(inner, "Type").text = "Sender" if error.status < 500 else "Receiver"
    ET.SubElement(inner, "Code").text = error.code
    message = f"[{', '.join(error.messages)}]" if error.messages else error.message
    ET.SubElement(inner, "Message").text = _NOT_XML.sub("\ufffd", message)
    ET.SubElement(root, "RequestId").text = request_id
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
