"""The Bot API's failures, sorted by what the desk does next (retry, wait, give up, tell the admin)."""
from __future__ import annotations

from bot.errors import HelplineError


class TelegramError(HelplineError):
    """A Bot API call failed; the subclass says how."""


class TokenRejected(TelegramError):
    """401/404: the token is wrong or revoked. Retrying cannot help; the admin must fix the config."""


class Blocked(TelegramError):
    """403: the user blocked the bot (or deleted their account); messages cannot reach them."""


class RateLimited(TelegramError):
    """429: wait ``retry_after`` seconds before sending to that chat again."""

    def __init__(self, message: str, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after


class Refused(TelegramError):
    """400 and other refusals of this very request: sending it again gets the same answer."""


class Conflict(TelegramError):
    """409: a webhook is set, or another process is polling this bot."""


class Unreachable(TelegramError):
    """Network errors, timeouts, 5xx: Telegram may answer later."""


class TooLarge(TelegramError):
    """A file over the size the desk accepts."""
