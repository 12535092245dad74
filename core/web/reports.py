"""Placeholder, replaced in the next commit."""


def routes() -> list:
    return []
