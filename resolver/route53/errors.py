"""The one exception every Route 53 operation raises: an error code clients know.

Clients raise their own exception classes from the code (boto3's
`client.exceptions.NoSuchHostedZone`), so the code, not the message, is the contract.
"""

from __future__ import annotations


class Route53Error(Exception):
    """A Route 53 error response: code (`NoSuchHostedZone`), message, HTTP status.

    `messages` is set only for InvalidChangeBatch, which lists every problem of a batch.
    """

    def __init__(
        self, code: str, message: str, status: int = 400, messages: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.messages = list(messages or [])

    @classmethod
    def invalid_batch(cls, messages: list[str]) -> Route53Error:
        return cls("InvalidChangeBatch", "; ".join(messages), 400, messages)

    @classmethod
    def invalid_input(cls, message: str) -> Route53Error:
        return cls("InvalidInput", message, 400)
