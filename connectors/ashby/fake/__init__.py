"""A fake Ashby for tests and local demos: Ashby's API for Langos, and a recruiter page.

``create_fake_ashby()`` returns a Starlette app. Its ``app.state.fake`` is the
``FakeAshbyState`` that records every call and lets tests inject failures. The fake never
calls the real Ashby, and it calls Langos only at the base URL it is given.
"""

from .app import create_fake_ashby
from .seed import DEMO_API_KEY, READONLY_API_KEY
from .state import FakeAshbyState

__all__ = ["DEMO_API_KEY", "READONLY_API_KEY", "FakeAshbyState", "create_fake_ashby"]
