"""Answering one query: the handler's stages, the engine that decides from the zones,
answer reuse, the client and its location, explain. Imports zones and wire, never serve."""
