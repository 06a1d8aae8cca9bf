"""The protocol numbers the query path compares against, defined once (RFC 1035, 6891)."""

from __future__ import annotations

OPT = 41  # the EDNS pseudo-record's type (RFC 6891)
IN, CH, ANY_CLASS = 1, 3, 255
NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5
BADVERS = 16  # an extended rcode: its high bits go in the OPT record
