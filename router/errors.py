"""Errors of the routing package.

`router` imports only `bot.domain` and its own code (DESIGN.md), so it cannot derive from
`bot.errors.HelplineError`; the CLI and the desk turn a `RouterError` into their own error kind.
"""


class RouterError(Exception):
    """Base of every error the router raises on purpose; the message says what to do."""


class DataError(RouterError):
    """A labelled-examples file is missing or malformed; the message names the file and line."""


class ModelError(RouterError):
    """A stored model cannot be used (missing, damaged, or from another scikit-learn)."""
