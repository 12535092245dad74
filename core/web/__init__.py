"""The host's own pages and HTTP APIs: sign-in, settings, reports, the candidate page and the engine API."""
