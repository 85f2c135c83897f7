"""Login sessions in web frameworks, on any sesh store.

The framework-neutral part is pure and imports no framework: ``CookiePolicy`` (which
cookie, with which attributes), the flows (what login, logout, rotation and the device
list do to a request), and ``WebSession`` / ``AsyncWebSession`` (a request's session,
sync or asyncio). Each framework is a thin shell in a module of its own, imported only
when used: ``sesh.web.asgi`` (plain ASGI middleware), ``sesh.web.starlette``
(``request.user``), ``sesh.web.fastapi`` (dependencies). ``import sesh`` and
``import sesh.web`` import no framework.
"""

from sesh.web._cookies import CookiePolicy
from sesh.web._flows import Device
from sesh.web._session import AsyncWebSession, WebSession, check_setup

__all__ = ["AsyncWebSession", "CookiePolicy", "Device", "WebSession", "check_setup"]
