"""Operators' and managers' pages, their authentication, live updates and the REST API."""
