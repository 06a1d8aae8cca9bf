"""Forwarding (SPEC 8): questions outside every zone, from clients allowed to recurse,
answered by upstream resolvers and cached for their TTL.

- `settings`: which forwarders serve a name (longest suffix) and who may recurse: pure;
- `upstream`: one exchange with the forwarders, in order, over UDP then TCP: the I/O;
- `scrub`: an upstream reply checked and cut to what may be served and cached: pure;
- `cache`: the cache of scrubbed answers, TTLs counting down, serve-stale: pure.

The query path (`resolver.query.forwarding`) drives these; nothing here imports it.
"""
