"""Bot tokens never reach a log line, whichever logger writes it and however it is formatted."""
from __future__ import annotations

import logging

from channels.telegram.redact import MASK, protect, redact

TOKEN = "424242424:AAHredactTESTtokenSECRETpartXYZ0123"


def test_messages_arguments_and_tracebacks_are_masked(caplog):
    protect(TOKEN)
    url = f"https://api.telegram.org/bot{TOKEN}/getUpdates"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("aiohttp.client").error("request to %s failed", url)
        logging.getLogger("aiogram.event").warning(f"direct {url}")
        try:
            raise ConnectionError(f"Cannot connect: {url}")
        except ConnectionError:
            logging.getLogger("channels.telegram.polling").exception("poll failed")
        logging.getLogger("x").info("encoded %s", "file/bot424242424%3AAAHredactTESTtokenSECRETpartXYZ0123/a.jpg")
    text = caplog.text
    assert TOKEN not in text and "AAHredactTESTtokenSECRETpartXYZ0123" not in text
    assert text.count(MASK) >= 4


def test_redact_masks_the_secret_half_alone():
    protect(TOKEN)
    assert redact("x AAHredactTESTtokenSECRETpartXYZ0123 y") == f"x {MASK} y"
    assert redact("nothing here") == "nothing here"
