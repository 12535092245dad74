"""Langos Integrations: the host that ATS connectors plug into."""

__version__ = "0.1.0"
