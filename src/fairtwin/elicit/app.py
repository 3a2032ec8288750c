"""The rating web app (Starlette): invite links, one pair per page, a JSON API, admin endpoints.

Routes
------
``GET  /invite/{token}``  the invite page: who it is for and a Start button (no cookie yet)
``POST /invite/{token}``  Start: opens a rater's session (an HttpOnly, SameSite=Strict cookie
                          holding a random session id, not the invite token), then ``/intro``
                          (a rater with answers goes straight to ``/rate``)
``GET  /intro``           the question, the study's goal, the quota and a time estimate
``GET  /rate``            the next pair: the week's situation and decisions A and B member by
                          member (the done page once the rater's quota is answered)
``GET  /rate/previous``   the last answered pair again, to change its answer (undo)
``POST /rate/answer``     the answer (form; CSRF token bound to the rater and the pair)
``GET  /lang/{code}``     the rater's language (``?next=`` the page to return to)
``GET  /api/next``        the next pair as JSON with ``answered`` and ``quota``
                          (``Authorization: Bearer <rater token>``; ``done`` at the quota)
``POST /api/answer``      ``{"query_id", "choice": "a"|"b"|"tie"|"unsure", "response_ms"?}``
                          (``tie``: equally fair; ``unsure``: the rater cannot tell)
``GET  /admin``           the organiser's page (after signing in with the admin token:
                          ``POST /admin`` opens an organiser's session): raters, progress,
                          last seen, the panel report, exports
``POST /admin/raters/{id}/{reissue|revoke|restore}``  the page's actions (CSRF-bound)
``GET  /admin/raters``    raters, answer counts, invite state, last seen (JSON; the session
                          or ``Bearer <admin token>``)
``GET  /admin/panel``     the panel report (agreement matrix, reliability, groups; JSON)
``GET  /admin/export``    the answers as a preference dataset (``.npz``)
``GET  /admin/export.csv`` every answer as CSV
``GET  /healthz``         liveness

The routes are grouped by concern: the rater's pages (:mod:`fairtwin.elicit.pages`), the JSON
API (:mod:`fairtwin.elicit.api`), the organiser's (:mod:`fairtwin.elicit.admin`); what they
share, and the guard around every response, is :mod:`fairtwin.elicit.web`; the question's
drawing is :mod:`fairtwin.elicit.render`; its texts come from a catalogue per language
(:mod:`fairtwin.elicit.i18n`).

Handlers that touch the database run in Starlette's thread pool, so a slow commit never
blocks the event loop. Answers are idempotent: posting the same answer to a pair again changes nothing (200,
``duplicate``), a different answer to the rater's last answered pair replaces it (``changed``:
an undo until the next answer), a different answer to an older pair is refused (409). Every page is rendered
with autoescaping; the Content-Security-Policy admits only this site's own script and style,
and it and the other security headers are on every response (static files and errors too).
Request bodies are capped (16 KiB by default; 413 before reading a larger declared body).
"""

from __future__ import annotations

import logging
from importlib import resources

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from fairtwin.elicit.admin import admin_routes
from fairtwin.elicit.api import api_routes
from fairtwin.elicit.pages import rater_routes
from fairtwin.elicit.study import ElicitationStudy
from fairtwin.elicit.web import (
    COOKIE,
    HEADERS,
    AppContext,
    BodyTooLarge,
    FailureLimiter,
    GuardedStarlette,
    TooManyFailures,
    same_origin,
    too_large_response,
)

__all__ = ["create_app", "COOKIE", "FailureLimiter", "same_origin"]

log = logging.getLogger(__name__)


def create_app(study: ElicitationStudy, secure_cookies: bool = False,
               limiter: FailureLimiter | None = None, max_body: int = 16_384) -> Starlette:
    """The Starlette app of a study (serve it with uvicorn).

    Parameters
    ----------
    study : ElicitationStudy
    secure_cookies : bool
        Mark the session cookie ``Secure`` even when the app sees plain HTTP (behind an HTTPS
        reverse proxy).
    limiter : FailureLimiter, optional
        Bounds failed token checks per address (valid tokens always pass).
    max_body : int
        Largest request body accepted, in bytes (an answer takes about 100); larger gets 413.
    """
    ctx = AppContext(study, secure_cookies, limiter or FailureLimiter())

    async def too_many(request: Request, exc: Exception) -> Response:
        return PlainTextResponse(ctx.texts(request)("too_many_failures"), status_code=429,
                                 headers={**HEADERS, "Retry-After": "60"})

    async def body_too_large(request: Request, exc: Exception) -> Response:
        log.warning("cut off a request body over %d bytes to %s", max_body, request.url.path)
        return too_large_response(request.url.path, max_body)

    def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    static = StaticFiles(directory=str(resources.files("fairtwin.elicit") / "static"))
    app = GuardedStarlette(
        routes=[*rater_routes(ctx), *api_routes(ctx), *admin_routes(ctx),
                Route("/healthz", healthz), Mount("/static", static, name="static")],
        exception_handlers={TooManyFailures: too_many, BodyTooLarge: body_too_large})
    app.max_body = max_body
    return app
