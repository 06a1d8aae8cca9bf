"""Zones: the immutable model the query path reads, and reading, checking and compiling
zone files into it. Imports resolver.wire (and policies and healthcheck) only."""
