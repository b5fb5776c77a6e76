"""Placeholder until written."""


def setup_console(app):
    return None
