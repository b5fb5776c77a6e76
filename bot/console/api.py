"""Placeholder until written."""


def setup_api(app):
    return None
