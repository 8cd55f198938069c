"""One exception root. API errors carry the exact client-facing string as their message."""

from __future__ import annotations


class ResellerError(Exception):
    """Reseller error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.__doc__ or type(self).__name__)

    @property
    def message(self) -> str:
        return str(self.args[0])


class ConfigError(ResellerError):
    """Invalid configuration."""


class DatabaseUnavailable(ResellerError):
    """Database unavailable"""


class NotFound(ResellerError):
    """Not found"""


class InsufficientBalance(ResellerError):
    """Insufficient balance"""


class DuplicateName(ResellerError):
    """Name already taken"""
