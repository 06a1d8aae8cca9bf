"""DNS wire format: names, record data, EDNS and ECS options, and the byte-level fast
parse and finishing of messages. Imports nothing else of resolver."""
