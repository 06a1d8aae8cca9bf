"""Serving: UDP and TCP listeners, worker processes, systemd notification, GC settings.
Moves bytes to and from the query handler; never looks inside a DNS message."""
