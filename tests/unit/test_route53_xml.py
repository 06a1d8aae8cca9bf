"""The Route 53 XML codec against botocore's own model, serializer and parser.

The oracles are botocore's: every output shape filled in completely is rendered by us and
must come back from botocore's rest-xml parser equal; every input body botocore's
serializer writes must parse to the params it was given; and shapes.py must equal what
the generator makes from the installed model.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import botocore.session
import pytest
from botocore.model import ListShape, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from dateutil.tz import tzutc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resolver.route53 import shapes, xmlcodec
from resolver.route53.errors import Route53Error
from scripts import gen_route53_shapes

MODEL = botocore.session.get_session().get_service_model("route53")
OPERATIONS = list(shapes.OPERATIONS)
WHEN = dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=tzutc())


def example(shape: Shape, index: int = 0, depth: int = 0, ascii_only: bool = False) -> Any:
    """A value of `shape` with every member present, lists of two, awkward strings."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        out = {}
        for name, member in shape.members.items():
            if depth > 6:
                continue
            header = member.serialization.get("location") == "header"
            out[name] = example(member, index, depth + 1, ascii_only or header)
        return out
    if kind == "list":
        assert isinstance(shape, ListShape)
        size = max(2, int(shape.metadata.get("min", 0)))
        return [example(shape.member, index + n, depth + 1, ascii_only) for n in range(size)]
    if kind == "string":
        enum = shape.enum
        if enum:
            return enum[index % len(enum)]
        if ascii_only:
            return f"{shape.name}-{index}"
        return f"{shape.name} {index} <&>/é"
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 0)) + 7 + index
    if kind == "boolean":
        return index % 2 == 0
    if kind == "double":
        return 1.5 + index
    if kind == "timestamp":
        return WHEN
    raise AssertionError(kind)


def botocore_parse(operation: str, status: int, headers: dict[str, str], body: bytes) -> Any:
    model = MODEL.operation_model(operation)
    parsed = create_parser("rest-xml").parse(
        {"status_code": status, "headers": headers, "body": body}, model.output_shape
    )
    parsed.pop("ResponseMetadata")
    return parsed


class TestShapesTable:
    def test_table_equals_the_model(self) -> None:
        """shapes.py is what the generator makes from botocore's model today."""
        tables = gen_route53_shapes.build(gen_route53_shapes.load_model())
        assert tables["OPERATIONS"] == shapes.OPERATIONS
        assert tables["STRUCTURES"] == shapes.STRUCTURES
        assert tables["LISTS"] == shapes.LISTS
        assert tables["SCALARS"] == shapes.SCALARS

    def test_routed_operations_match_the_model(self) -> None:
        for name, (method, uri, input_shape, _root, output, status) in shapes.OPERATIONS.items():
            model = MODEL.operation_model(name)
            assert (method, uri) == (model.http["method"], model.http["requestUri"])
            assert input_shape == model.input_shape.name
            assert output == model.output_shape.name
            assert status == model.http.get("responseCode", 200)


class TestRender:
    @pytest.mark.parametrize("operation", OPERATIONS)
    def test_full_output_round_trips_through_botocore(self, operation: str) -> None:
        """Every member, list and type of every output comes back from botocore equal."""
        expected = example(MODEL.operation_model(operation).output_shape)
        status, headers, body = xmlcodec.render(operation, expected)
        assert status == shapes.OPERATIONS[operation][5]
        assert botocore_parse(operation, status, headers, body) == expected

    def test_unknown_member_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="Bogus"):
            xmlcodec.render("GetHostedZoneCount", {"HostedZoneCount": 1, "Bogus": 2})

    def test_wrong_type_is_a_type_error(self) -> None:
        with pytest.raises(TypeError, match="not an int"):
            xmlcodec.render("GetHostedZoneCount", {"HostedZoneCount": "1"})

    def test_invalid_change_batch_lists_every_message(self) -> None:
        error = Route53Error.invalid_batch(["first problem", "second <problem>"])
        body = xmlcodec.render_error(error, "req-1")
        parsed = create_parser("rest-xml").parse(
            {"status_code": 400, "headers": {}, "body": body},
            MODEL.operation_model("ChangeResourceRecordSets").output_shape,
        )
        assert parsed["Error"]["Code"] == "InvalidChangeBatch"
        assert parsed["Error"]["Message"] == "[first problem, second <problem>]"
        assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def _output_strategy(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        optional = {
            name: _output_strategy(member, depth + 1)
            for name, member in shape.members.items()
            if depth < 5 and member.serialization.get("location") != "header"
        }
        return st.fixed_dictionaries({}, optional=optional)
    if kind == "list":
        assert isinstance(shape, ListShape)
        return st.lists(_output_strategy(shape.member, depth + 1), min_size=1, max_size=3)
    if kind == "string":
        if shape.enum:
            return st.sampled_from(shape.enum)
        # XML 1.0 characters; botocore strips nothing, and neither may we.
        return st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)
    if kind in ("integer", "long"):
        return st.integers(-(2**31), 2**31 - 1)
    if kind == "boolean":
        return st.booleans()
    if kind == "double":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "timestamp":
        return st.datetimes(
            min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1)
        ).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=tzutc()))
    raise AssertionError(kind)


@st.composite
def _operation_output(draw: st.DrawFn) -> tuple[str, Any]:
    operation = draw(st.sampled_from(OPERATIONS))
    shape = MODEL.operation_model(operation).output_shape
    return operation, draw(_output_strategy(shape))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_operation_output())
def test_any_output_round_trips_through_botocore(case: tuple[str, Any]) -> None:
    """Whatever an output holds (any text, any int, any date), botocore reads it back."""
    operation, value = case
    status, headers, body = xmlcodec.render(operation, value)
    assert botocore_parse(operation, status, headers, body) == value


def _body_members(operation: str, params: dict[str, Any]) -> dict[str, Any]:
    shape = MODEL.operation_model(operation).input_shape
    return {
        name: value
        for name, value in params.items()
        if not shape.members[name].serialization.get("location")
    }


UTF16_DTD = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "b">]><r>&a;</r>'
UTF16_DTD_BYTES = UTF16_DTD.encode("utf-16")
BODY_OPERATIONS = [name for name, spec in shapes.OPERATIONS.items() if spec[3]]


class TestParseBody:
    @pytest.mark.parametrize("operation", BODY_OPERATIONS)
    def test_botocore_body_parses_to_its_params(self, operation: str) -> None:
        """botocore's serializer writes the body; we read back exactly what it was given."""
        model = MODEL.operation_model(operation)
        params = example(model.input_shape)
        request = create_serializer("rest-xml").serialize_to_request(params, model)
        assert xmlcodec.parse_body(operation, request["body"]) == _body_members(operation, params)

    def test_body_operations_are_the_six(self) -> None:
        assert set(BODY_OPERATIONS) == {
            "ChangeResourceRecordSets",
            "CreateHostedZone",
            "CreateHealthCheck",
            "UpdateHealthCheck",
            "ChangeCidrCollection",
            "CreateCidrCollection",
        }

    @pytest.mark.parametrize(
        "body",
        [
            b"<CreateHostedZoneRequest><Name>a",
            b"not xml",
            b"<Other/>",
            b"<CreateHostedZoneRequest><Bogus/></CreateHostedZoneRequest>",
            b"<CreateHostedZoneRequest><Name>a</Name><Name>b</Name></CreateHostedZoneRequest>",
            b'<CreateHostedZoneRequest xmlns="urn:other"><Name>a</Name></CreateHostedZoneRequest>',
            b"<CreateHostedZoneRequest><Name><x/></Name></CreateHostedZoneRequest>",
            b"<CreateHostedZoneRequest><Name>&foo;</Name></CreateHostedZoneRequest>",
            b"",
        ],
    )
    def test_malformed_bodies_are_invalid_input(self, body: bytes) -> None:
        with pytest.raises(Route53Error) as caught:
            xmlcodec.parse_body("CreateHostedZone", body)
        assert (caught.value.code, caught.value.status) == ("InvalidInput", 400)

    @pytest.mark.parametrize(
        "body",
        [
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;</r>',
            b'<!DOCTYPE CreateHostedZoneRequest SYSTEM "file:///etc/passwd">'
            b"<CreateHostedZoneRequest/>",
            # The same DTD in UTF-16: a byte search cannot see it; expat still reports it.
            UTF16_DTD_BYTES,
        ],
    )
    def test_dtds_and_entities_are_refused(self, body: bytes) -> None:
        with pytest.raises(Route53Error, match=r"DTD|entit") as caught:
            xmlcodec.parse_body("CreateHostedZone", body)
        assert caught.value.code == "InvalidInput"

    def test_oversized_body_is_refused(self) -> None:
        body = b"<CreateHostedZoneRequest><Name>" + b"a" * xmlcodec.MAX_BODY_BYTES + b"</Name>"
        with pytest.raises(Route53Error, match="exceeds"):
            xmlcodec.parse_body("CreateHostedZone", body + b"</CreateHostedZoneRequest>")

    @pytest.mark.parametrize(
        ("text", "error"), [("x", "not an integer"), ("1.5", "not an integer"), ("", "integer")]
    )
    def test_bad_integer_is_invalid_input(self, text: str, error: str) -> None:
        body = (
            "<ChangeCidrCollectionRequest><CollectionVersion>"
            f"{text}</CollectionVersion><Changes/></ChangeCidrCollectionRequest>"
        ).encode()
        with pytest.raises(Route53Error, match=error):
            xmlcodec.parse_body("ChangeCidrCollection", body)

    def test_bad_boolean_is_invalid_input(self) -> None:
        body = (
            b"<CreateHealthCheckRequest><HealthCheckConfig><Inverted>yes</Inverted>"
            b"</HealthCheckConfig></CreateHealthCheckRequest>"
        )
        with pytest.raises(Route53Error, match="true or false"):
            xmlcodec.parse_body("CreateHealthCheck", body)
