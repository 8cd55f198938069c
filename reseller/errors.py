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


class DatabaseError(ResellerError):
    """Database error"""


class NotFound(ResellerError):
    """Not found"""


class DuplicateName(ResellerError):
    """Name already taken"""


class DuplicateUpstreamOrder(ResellerError):
    """The provider answered an order ID that another local order already has"""


class LinkRefused(ResellerError):
    """Refused: the provider does not confirm this upstream ID can be ours; nothing changed"""


class SettlementRefused(ResellerError):
    """Refused: not a final status and remains to settle on; nothing changed"""


class CatalogWouldEmpty(ResellerError):
    """Refused: this would take every service off sale"""


class ApiError(ResellerError):
    """Incorrect request

    The message is the standard string a client sees; `detail` says precisely what was wrong
    (which field, which value), for the request's log line only."""

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


# The exact client-facing strings of API v2 (README, "The API"): downstream panels match on them.


class InvalidApiKey(ApiError):
    """Invalid API key"""


class IncorrectRequest(ApiError):
    """Incorrect request"""


class InvalidAction(ApiError):
    """Invalid action"""


class InvalidServiceId(ApiError):
    """Invalid service ID"""


class InvalidQuantity(ApiError):
    """Invalid quantity"""


class InsufficientBalance(ApiError):
    """Insufficient balance"""


class InvalidLink(ApiError):
    """Invalid link"""


class IncorrectOrderId(ApiError):
    """Incorrect order ID"""


class RefillNotFound(ApiError):
    """Refill not found"""


class RefillNotAvailable(ApiError):
    """Refill is not available for this order"""


class CancelNotAvailable(ApiError):
    """Cancel is not available for this order"""


class TooManyRequests(ApiError):
    """Too many requests"""


class AccountSuspended(ApiError):
    """Account suspended"""


class CurrencyNotPriced(ApiError):
    """No prices in your account's currency, please contact support"""


class ServiceUnavailable(ApiError):
    """Service temporarily unavailable, try again shortly"""


class UpstreamError(ResellerError):
    """Upstream call failed"""


class UpstreamRefused(UpstreamError):
    """Definitive: the provider answered `{"error": …}`; nothing was done upstream."""


class UpstreamNotSent(UpstreamError):
    """The request never reached the provider (connection failed): safe to retry."""


class UpstreamUnknown(UpstreamError):
    """The request may have been processed (timeout after sending, reset, 5xx, non-JSON):
    never re-send an `add` on this."""
