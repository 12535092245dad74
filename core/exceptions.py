"""Exceptions raised by the Langos host and its connectors.

The tree::

    LangosError
    ├── ConfigError                 invalid settings or plugins.toml
    ├── PluginError                 a connector failed to load or broke the hook contract
    ├── RequestValidationError      an inbound request body is invalid (HTTP 422 or 400)
    ├── NotFound                    a record does not exist in the caller's workspace
    ├── Conflict                    the request clashes with the record's state (HTTP 409)
    ├── AuthenticationError         an inbound call has no valid key (HTTP 401)
    ├── RateLimited                 a key made too many calls (HTTP 429)
    └── UpstreamError               a call to an ATS failed
        ├── CredentialRejected      the ATS rejected the credential or it lacks a permission
        └── UpstreamUnavailable     the ATS could not be reached, timed out or failed (5xx, 429)
"""

from __future__ import annotations


class LangosError(Exception):
    """Base class of every error the host raises on purpose."""


class ConfigError(LangosError):
    """Settings or ``plugins.toml`` are invalid."""


class PluginError(LangosError):
    """A connector could not be loaded, or it broke the hook contract."""

    def __init__(self, message: str, *, connector: str | None = None) -> None:
        super().__init__(message)
        self.connector = connector


class RequestValidationError(LangosError):
    """An inbound request is invalid; ``field`` names the offending field."""

    def __init__(self, message: str, *, field: str | None = None, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status_code = status_code


class NotFound(LangosError):
    """A record does not exist, or it belongs to another workspace."""


class Conflict(LangosError):
    """A request clashes with the current state of a record."""


class UpstreamError(LangosError):
    """A call to an ATS failed.

    ``retryable`` tells the delivery worker whether trying again can help, and
    ``status_code`` is the HTTP status the ATS returned, when it returned one.
    """

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        connector: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.connector = connector
        self.status_code = status_code
        self.code = code
        self.retry_after = retry_after


class CredentialRejected(UpstreamError):
    """The ATS rejected the credential, or the credential lacks a permission Langos needs."""


class UpstreamUnavailable(UpstreamError):
    """The ATS could not be reached, timed out, rate limited or failed on its side."""

    retryable = True


class AuthenticationError(LangosError):
    """An inbound call carries no key, or a key that is unknown, revoked or expired."""


class RateLimited(LangosError):
    """A key made more calls than its rate limit allows; ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after
