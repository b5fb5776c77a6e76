"""The one base error of helpline and its common kinds."""
from bot.texts import Lookup, Text


class HelplineError(Exception):
    """Base of every error helpline raises on purpose.

    The message is an English msgid; its `{name}` fields come as keyword values, so the console can
    show it in the operator's language (`translated`) while str() stays English for logs and the CLI.
    """

    def __init__(self, message: str = "", /, **params):
        self.text = Text(message, params)
        super().__init__(self.text.render() if params else message)

    def translated(self, lookup: Lookup) -> str:
        """The message in a catalog's language (its gettext as `lookup`); English where it has no translation."""
        return self.text.render(lookup)


class ConfigError(HelplineError):
    """The configuration is wrong; the message names the key and the reason."""


class NotFound(HelplineError):
    """The thing asked for does not exist (or the caller may not know it exists)."""


class Forbidden(HelplineError):
    """The caller is known but may not do this."""


class InvalidInput(HelplineError):
    """Input from outside failed validation; the message says what to fix (mark it: extraction keyword)."""


class DeliveryError(HelplineError):
    """Sending through a channel failed; `permanent` says whether retrying can help."""

    def __init__(self, reason: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(reason)
        self.permanent = permanent
        self.retry_after = retry_after
