"""The one error tree of govbridge.

    BridgeError
    ├── TransientError          retry later: the counterpart may answer next time
    │   ├── UnavailableError    connection refused or reset, HTTP 5xx, HTML error page
    │   ├── TimeoutError_       no complete answer within the deadline
    │   ├── BusyError           a fault saying the counterpart is busy
    │   └── TokenExpiredError   the session token is no longer valid (re-login)
    └── PermanentError          retrying the same input cannot succeed
        ├── ProtocolError       an answer that is not what the contract says
        ├── DecodeError         bytes that are not text in the declared encoding
        ├── SecurityError       entity declarations, oversize answers
        ├── ValidationError     a record that breaks the interchange schema
        ├── MappingError        a record the mapping cannot convert
        ├── RejectedError       the target refused the write (business error)
        └── ConfigError         a configuration or mapping file that is wrong

Every error carries where it happened: the system, the operation, the record
key, the field or XPath, the HTTP status and the SOAP fault code and text,
whichever apply. ``is_transient`` is the single retry decision.
"""

from __future__ import annotations

from typing import Any


class BridgeError(Exception):
    """Root of every error govbridge raises on purpose."""

    transient = False

    def __init__(
        self,
        message: str,
        *,
        system: str | None = None,
        operation: str | None = None,
        record: str | None = None,
        field: str | None = None,
        http_status: int | None = None,
        fault_code: str | None = None,
        fault_text: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.system = system
        self.operation = operation
        self.record = record
        self.field = field
        self.http_status = http_status
        self.fault_code = fault_code
        self.fault_text = fault_text
        self.detail = detail

    def context(self) -> dict[str, Any]:
        """The error's attributes that are set, for logs and dead letters."""
        keys = (
            "system",
            "operation",
            "record",
            "field",
            "http_status",
            "fault_code",
            "fault_text",
        )
        found = {key: getattr(self, key) for key in keys}
        return {key: value for key, value in found.items() if value is not None}

    def __str__(self) -> str:
        where = " ".join(f"{key}={value}" for key, value in self.context().items())
        return f"{self.message} ({where})" if where else self.message


class TransientError(BridgeError):
    """A failure that may pass: the same request can be sent again later."""

    transient = True


class UnavailableError(TransientError):
    """The counterpart could not be reached or answered with a server error."""


class TimeoutError_(TransientError):
    """No complete answer arrived within the call's deadline."""


class BusyError(TransientError):
    """The counterpart answered with a fault that says it is busy."""


class TokenExpiredError(TransientError):
    """The counterpart no longer accepts the session token."""


class PermanentError(BridgeError):
    """A failure that repeats for the same input; the record is dead-lettered."""


class ProtocolError(PermanentError):
    """An answer that does not follow the counterpart's contract."""


class DecodeError(PermanentError):
    """Bytes that cannot be read as text in the declared encoding."""


class SecurityError(PermanentError):
    """Input refused for safety: entity declarations, oversize payloads."""


class ValidationError(PermanentError):
    """A record that is not valid against the interchange schema."""


class MappingError(PermanentError):
    """A record that the mapping files cannot convert."""


class RejectedError(PermanentError):
    """The target understood the write and refused it."""


class ConfigError(PermanentError):
    """A configuration or mapping file that cannot be used."""


def is_transient(error: BaseException) -> bool:
    """The retry decision: only transient bridge errors are tried again."""
    return isinstance(error, BridgeError) and error.transient
