"""The one base error of helpline and its common kinds."""


class HelplineError(Exception):
    """Base of every error helpline raises on purpose."""


class ConfigError(HelplineError):
    """The configuration is wrong; the message names the key and the reason."""


class NotFound(HelplineError):
    """The thing asked for does not exist (or the caller may not know it exists)."""


class Forbidden(HelplineError):
    """The caller is known but may not do this."""


class InvalidInput(HelplineError):
    """Input from outside failed validation; the message says what to fix."""


class DeliveryError(HelplineError):
    """Sending through a channel failed; `permanent` says whether retrying can help."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
