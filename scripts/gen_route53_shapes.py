"""Generate resolver/route53/shapes.py from botocore's model of Route 53 (2013-04-01).

botocore is a test-only dependency, so the product carries the few facts it needs (paths,
element names, list member names, scalar types) as a committed table; this script makes it
and tests/unit/test_route53_xml.py checks that the table still equals the model.

    python3 scripts/gen_route53_shapes.py > resolver/route53/shapes.py && ruff format ...
(or run it with --write, which also formats the file.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

# The operations the API routes (issue 14), in the model's own names.
ROUTED = (
    "CreateHostedZone",
    "GetHostedZone",
    "ListHostedZones",
    "ListHostedZonesByName",
    "DeleteHostedZone",
    "GetHostedZoneCount",
    "ChangeResourceRecordSets",
    "ListResourceRecordSets",
    "GetChange",
    "CreateHealthCheck",
    "GetHealthCheck",
    "ListHealthChecks",
    "UpdateHealthCheck",
    "DeleteHealthCheck",
    "GetHealthCheckCount",
    "GetHealthCheckStatus",
    "GetHealthCheckLastFailureReason",
    "CreateCidrCollection",
    "ChangeCidrCollection",
    "ListCidrCollections",
    "ListCidrLocations",
    "ListCidrBlocks",
    "DeleteCidrCollection",
    "TestDNSAnswer",
)
TARGET = Path(__file__).resolve().parents[1] / "resolver" / "route53" / "shapes.py"


def load_model() -> dict[str, Any]:
    import botocore.loaders

    model: dict[str, Any] = botocore.loaders.Loader().load_service_model("route53", "service-2")
    return model


def build(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The tables, as plain data: operations, structures, lists, scalars."""
    shapes = model["shapes"]
    operations: dict[str, tuple[str, str, str, str, str, int]] = {}
    structures: dict[str, tuple[tuple[str, str, str, str], ...]] = {}
    lists: dict[str, tuple[str, str]] = {}
    scalars: dict[str, str] = {}

    def walk(name: str) -> None:
        if name in structures or name in lists or name in scalars:
            return
        shape = shapes[name]
        kind = shape["type"]
        if kind == "structure":
            structures[name] = ()  # placeholder against cycles
            members = []
            for member, ref in shape["members"].items():
                members.append(
                    (member, ref["shape"], ref.get("locationName", member), ref.get("location", ""))
                )
            structures[name] = tuple(members)
            for _, child, _, _ in members:
                walk(child)
        elif kind == "list":
            if shape.get("flattened"):
                raise SystemExit(f"{name}: flattened lists are not supported")
            ref = shape["member"]
            lists[name] = (ref["shape"], ref.get("locationName", "member"))
            walk(ref["shape"])
        elif kind in ("string", "integer", "long", "boolean", "timestamp", "double"):
            scalars[name] = kind
        else:
            raise SystemExit(f"{name}: shape type {kind} is not supported")

    for op_name in ROUTED:
        op = model["operations"][op_name]
        http = op["http"]
        inp = op["input"]["shape"]
        out = op["output"]["shape"]
        root = op["input"].get("locationName", "")
        operations[op_name] = (
            http["method"],
            http["requestUri"],
            inp,
            root,
            out,
            int(http.get("responseCode", 200)),
        )
        walk(inp)
        walk(out)
    return {
        "OPERATIONS": operations,
        "STRUCTURES": dict(sorted(structures.items())),
        "LISTS": dict(sorted(lists.items())),
        "SCALARS": dict(sorted(scalars.items())),
    }


HEADER = '''"""Route 53's API model (2013-04-01), the part the API routes. GENERATED: do not edit.

Made by scripts/gen_route53_shapes.py from botocore's service-2.json (botocore {version}), so
the product needs no botocore. OPERATIONS: name -> (method, request URI, input shape, the
input body's root element or "", output shape, success status). STRUCTURES: shape ->
((member, member shape, XML element name, location: "" body | uri | querystring | header),
...). LISTS: shape -> (member shape, member element name). SCALARS: shape -> type.
"""

from __future__ import annotations

NAMESPACE = "{namespace}"
API_VERSION = "{api_version}"
'''


def render(model: dict[str, Any], version: str) -> str:
    tables = build(model)
    out = [
        HEADER.format(
            version=version,
            namespace=f"https://route53.amazonaws.com/doc/{model['metadata']['apiVersion']}/",
            api_version=model["metadata"]["apiVersion"],
        )
    ]
    annotations = {
        "OPERATIONS": "dict[str, tuple[str, str, str, str, str, int]]",
        "STRUCTURES": "dict[str, tuple[tuple[str, str, str, str], ...]]",
        "LISTS": "dict[str, tuple[str, str]]",
        "SCALARS": "dict[str, str]",
    }
    for name, table in tables.items():
        out.append(f"{name}: {annotations[name]} = {{")
        for key, value in table.items():
            out.append(f"    {key!r}: {value!r},")
        out.append("}")
        out.append("")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    import botocore

    text = render(load_model(), botocore.__version__)
    if "--write" in argv:
        TARGET.write_text(text)
        subprocess.run([sys.executable, "-m", "ruff", "format", str(TARGET)], check=True)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
