"""Forwarding (SPEC 8): questions outside every zone, from clients allowed to recurse,
answered by upstream resolvers and cached for their TTL.

- `settings`: which forwarders serve a name (longest suffix) and who may recurse: pure;
- `upstream`: one exchange with the forwarders, in order, over UDP then TCP: the I/O;
- `scrub`: an upstream reply checked and cut to what may be served and cached: pure;
- `cache`: the cache of scrubbed answers, TTLs counting down, serve-stale: pure.

- `stage`: the forwarding stage the handler calls (a `query.stages.Forwarder`): who is
  forwarded, the cache, one exchange for identical questions in flight, serve-stale.

The package is the network side of the query path, a layer with `serve`: it may use
`query`'s stages, and `query` knows it only through the `Forwarder` protocol.
"""
