"""What the rating app's routes share: the security guard around every response (headers,
body caps), the failed-token limiter, and :class:`AppContext` (the study, sessions, pages in
the rater's language, CSRF tokens, error responses)."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from hashlib import sha256
from urllib.parse import quote

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fairtwin.elicit.i18n import DEFAULT_LANGUAGE, Catalogue, catalogue, languages, negotiate
from fairtwin.elicit.store import PreferenceStore, RaterRecord
from fairtwin.elicit.study import ElicitationStudy

__all__ = ["AppContext", "FailureLimiter", "BodyTooLarge", "COOKIE", "LANG_COOKIE", "HEADERS",
           "same_origin", "too_large_response"]

log = logging.getLogger(__name__)

COOKIE = "fairtwin_rater"
LANG_COOKIE = "fairtwin_lang"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


class TooManyFailures(Exception):
    pass


class BodyTooLarge(Exception):
    """A request body over the app's limit (answered 413)."""


class FailureLimiter:
    """At most ``max_failures`` failed token checks per client address in ``window_s`` seconds;
    beyond that the address's *wrong* tokens get 429 until the window has passed.

    A request that presents a valid token is never refused: one bad link clicked in an office
    behind one NAT address must not lock out the other raters there. Guessing stays hopeless
    (tokens and session ids are 192 and 256 random bits); the limit damps scanners' load and
    noise.
    """

    def __init__(self, max_failures: int = 20, window_s: float = 60.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        q = self._failures.setdefault(address, deque())
        while q and q[0] <= now - self.window_s:
            q.popleft()
        return q

    def blocked(self, address: str) -> bool:
        with self._lock:
            return len(self._recent(address, time.monotonic())) >= self.max_failures

    def fail(self, address: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._recent(address, now).append(now)
            if len(self._failures) > 10_000:  # forget the quietest addresses
                for key in [k for k, q in self._failures.items() if not q][:5000]:
                    del self._failures[key]


class Guard:
    """ASGI wrapper around the whole app: the security headers on every response (pages, JSON,
    static files, errors), and request bodies capped at ``max_body`` bytes — a declared
    ``Content-Length`` over it is answered 413 before any byte is read, a streamed body is cut
    off (413) as soon as it passes the limit."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        static = str(scope.get("path", "")).startswith("/static/")

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if static:  # the page's script and style: cacheable, so a page is ready at once
                    headers.setdefault("Cache-Control", "public, max-age=3600")
                for key, value in HEADERS.items():
                    headers.setdefault(key, value)
            await send(message)

        declared = Headers(scope=scope).get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            log.warning("refused a %s-byte request body to %s", declared, scope.get("path"))
            await too_large_response(scope.get("path", ""), self.max_body)(
                scope, receive, send_guarded)
            return
        seen = 0

        async def receive_limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge
            return message

        await self.app(scope, receive_limited, send_guarded)


def too_large_response(path: str, max_body: int) -> Response:
    """413 with a one-line reason, JSON under ``/api/``."""
    text = f"request body too large: at most {max_body} bytes"
    if path.startswith("/api/"):
        return JSONResponse({"error": text}, status_code=413)
    return PlainTextResponse(text, status_code=413)


class GuardedStarlette(Starlette):
    """Starlette with :class:`Guard` outside even its error middleware (so a 500 carries the
    headers too)."""

    max_body = 16_384

    def build_middleware_stack(self) -> ASGIApp:
        return Guard(super().build_middleware_stack(), self.max_body)


class AppContext:
    """The study and what every route needs of it (see :func:`fairtwin.elicit.app.create_app`).

    Parameters
    ----------
    study : ElicitationStudy
    secure_cookies : bool
    limiter : FailureLimiter
    """

    def __init__(self, study: ElicitationStudy, secure_cookies: bool,
                 limiter: FailureLimiter) -> None:
        self.study = study
        self.store: PreferenceStore = study.store
        self.secure_cookies = secure_cookies
        self.limiter = limiter
        self.secret = self.store.secret()
        self.env = Environment(loader=PackageLoader("fairtwin.elicit", "templates"),
                               autoescape=select_autoescape(["html"]))

    # ------------------------------------------------------------------ who is asking
    def checked(self, request: Request, token: str | None,
                find: Callable[[str | None], RaterRecord | None]) -> RaterRecord | None:
        rater = find(token)
        if rater is None and token:
            address = request.client.host if request.client else "?"
            if self.limiter.blocked(address):
                raise TooManyFailures
            self.limiter.fail(address)
        return rater

    def lookup(self, request: Request, token: str | None) -> RaterRecord | None:
        """The rater of an invite or API token."""
        return self.checked(request, token, self.store.rater_by_token)

    def session_rater(self, request: Request) -> RaterRecord | None:
        """The rater of the session cookie."""
        return self.checked(request, request.cookies.get(COOKIE), self.store.rater_by_session)

    @staticmethod
    def bearer(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def csrf_for(self, rater_id: int, query_id: int) -> str:
        return hmac.new(self.secret, f"{rater_id}:{query_id}".encode(), sha256).hexdigest()

    # ------------------------------------------------------------------ language
    def language(self, request: Request) -> str:
        """The rater's switch (cookie), else the study's language, else the browser's
        ``Accept-Language`` when the study leaves it open (``auto``), else English."""
        chosen = request.cookies.get(LANG_COOKIE)
        if chosen in languages():
            return str(chosen)
        study_lang = self.study.brief.lang
        if study_lang != "auto":
            return study_lang
        return negotiate(request.headers.get("accept-language")) or DEFAULT_LANGUAGE

    def texts(self, request: Request) -> Catalogue:
        return catalogue(self.language(request))

    # ------------------------------------------------------------------ responses
    def page(self, request: Request, name: str, status: int = 200, **ctx: object) -> HTMLResponse:
        t = self.texts(request)
        if request.method == "GET":
            here = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        else:  # a page answering a form: switch on the page the form belongs to
            here = "/admin" if request.url.path.startswith("/admin") else "/rate"
        switch = [(code, catalogue(code)("language_name"), f"/lang/{code}?next={here}")
                  for code in languages() if code != t.code]
        html = self.env.get_template(name).render(t=t, lang=t.code, switch=switch, **ctx)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def message(self, request: Request, key: str, status: int, link: str = "",
                link_key: str = "", **values: object) -> HTMLResponse:
        """A one-message page: title ``<key>.title``, text ``<key>.text`` of the catalogue."""
        t = self.texts(request)
        return self.page(request, "message.html", status, title=t(f"{key}.title"),
                         text=t(f"{key}.text", **values), link=link,
                         link_text=t(link_key) if link_key else "")

    @staticmethod
    def json_error(status: int, text: str) -> JSONResponse:
        return JSONResponse({"error": text}, status_code=status, headers=HEADERS)


def same_origin(request: Request) -> bool:
    """Whether a state-changing request came from this site, as far as the browser says:
    ``Sec-Fetch-Site`` (modern browsers) must be ``same-origin`` or ``none`` (typed, bookmark);
    without it, an ``Origin`` header other than ``null`` must name this host. Clients that send
    neither (scripts, old browsers) pass."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    return origin.split("://", 1)[-1].rstrip("/") == request.headers.get("host", "")


def float_or_none(value: object) -> float | None:
    try:
        v = float(str(value))
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) and v >= 0 else None
