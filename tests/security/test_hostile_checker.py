"""The markup check of tests/security/hostile.py finds each payload when it is not escaped."""
import html

import pytest

from tests.security.hostile import ATTR, IMG, LINK, PAYLOAD, SCRIPT, SVG, markup_problems


@pytest.mark.parametrize("raw", [SCRIPT, IMG, LINK, SVG, f"<p title='{ATTR}'>"])
def test_each_payload_is_caught_raw(raw):
    assert markup_problems(f"<html><body><p>{raw}</p></body></html>")


def test_the_escaped_payload_passes_in_text_and_attributes():
    escaped = html.escape(PAYLOAD)
    assert markup_problems(f"<p title=\"{escaped}\">{escaped}</p><a href=\"/x\">{escaped}</a>") == []
