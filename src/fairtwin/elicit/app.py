"""The rating web app (Starlette): invite links, one pair per page, a JSON API, admin endpoints.

Routes
------
``GET  /invite/{token}``  the invite page: who it is for and a Start button (no cookie yet)
``POST /invite/{token}``  Start: opens a rater's session (an HttpOnly, SameSite=Strict cookie
                          holding a random session id, not the invite token), then ``/intro``
                          (a rater with answers goes straight to ``/rate``)
``GET  /intro``           the question, the study's goal, the quota and a time estimate
``GET  /rate``            the next pair: the week's situation and decisions A and B (the done
                          page once the rater's quota is answered)
``GET  /rate/previous``   the last answered pair again, to change its answer (undo)
``POST /rate/answer``     the answer (form; CSRF token bound to the rater and the pair)
``GET  /api/next``        the next pair as JSON with ``answered`` and ``quota``
                          (``Authorization: Bearer <rater token>``; ``done`` at the quota)
``POST /api/answer``      ``{"query_id", "choice": "a"|"b"|"tie"|"unsure", "response_ms"?}``
                          (``tie``: equally fair; ``unsure``: the rater cannot tell)
``GET  /admin/raters``    raters and their answer counts (``Bearer <admin token>``)
``GET  /admin/export``    the answers as a preference dataset (``.npz``)
``GET  /healthz``         liveness

Handlers that touch the database run in Starlette's thread pool, so a slow commit never
blocks the event loop. Answers are idempotent: posting the same answer to a pair again changes nothing (200,
``duplicate``), a different answer to the rater's last answered pair replaces it (``changed``:
an undo until the next answer), a different answer to an older pair is refused (409). Every page is rendered
with autoescaping; the Content-Security-Policy admits only this site's own script and style,
and it and the other security headers are on every response (static files and errors too).
Request bodies are capped (16 KiB by default; 413 before reading a larger declared body).
"""

from __future__ import annotations

import hmac
import io
import json
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from hashlib import sha256
from importlib import resources

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fairtwin.elicit.store import (
    CHOICES,
    SESSION_LIFETIME_S,
    Outcome,
    PreferenceStore,
    Query,
    RaterRecord,
)
from fairtwin.elicit.study import (
    DecisionView,
    ElicitationStudy,
    OutcomeGroupView,
    OutcomePairView,
    PairView,
)
from fairtwin.exceptions import UnknownNameError, ValidationError

__all__ = ["create_app", "COOKIE"]

log = logging.getLogger(__name__)

CHOICE_LABELS = {"a": "A is fairer", "b": "B is fairer", "tie": "equally fair",
                 "unsure": "I can't tell"}

COOKIE = "fairtwin_rater"
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "Cache-Control": "no-store",
}


def _svg(view: PairView, d: DecisionView) -> str:
    """Horizontal bars of each region's load before (grey) and after (colour)."""
    names = view.regions
    row, label_w, width = 18, 150, 440
    finite = [v for v in view.load_before + d.load_after if math.isfinite(v)]
    top = max(1.25, max(finite, default=1.0))
    scale = (width - label_w - 40) / top
    parts = [f'<svg class="loads" viewBox="0 0 {width} {row * len(names) + 20}" role="img" '
             f'aria-label="load per region before and after">']
    x1 = label_w + scale * 1.0
    for k, name in enumerate(names):
        y = 4 + k * row
        before = min(view.load_before[k], top) if math.isfinite(view.load_before[k]) else top
        after = min(d.load_after[k], top) if math.isfinite(d.load_after[k]) else top
        colour = "#c0392b" if d.load_after[k] > 1.0 + 1e-9 else "#2e86c1"
        esc = (name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
               .replace('"', "&quot;"))
        parts.append(f'<text x="{label_w - 4}" y="{y + 11}" text-anchor="end">{esc[:24]}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 1}" width="{scale * before:.1f}" height="4" '
                     'fill="#b8c0c8"/>')
        parts.append(f'<rect x="{label_w}" y="{y + 6}" width="{scale * after:.1f}" height="7" '
                     f'fill="{colour}"/>')
        value = f"{d.load_after[k]:.2f}" if math.isfinite(d.load_after[k]) else "∞"
        parts.append(f'<text x="{label_w + scale * after + 3:.1f}" y="{y + 12}">{value}</text>')
    h = row * len(names) + 4
    parts.append(f'<line x1="{x1:.1f}" x2="{x1:.1f}" y1="2" y2="{h}" stroke="#1d2329" '
                 'stroke-dasharray="3 2"/>')
    parts.append(f'<text x="{x1 + 2:.1f}" y="{h + 12}">1 patient per bed</text></svg>')
    return "".join(parts)


def _esc(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _svg_group(g: OutcomeGroupView, which: str) -> str:
    """Horizontal bars of one outcome group for decision ``which`` (the other's as a grey tick),
    on a scale shared by both decisions."""
    values = g.a if which == "a" else g.b
    other = g.b if which == "a" else g.a
    row, label_w, width = 18, 150, 440
    lo = min(0.0, *g.a, *g.b)
    hi = max(0.0, *g.a, *g.b)
    span = (hi - lo) or 1.0
    scale = (width - label_w - 50) / span
    zero = label_w + scale * (0.0 - lo)
    parts = [f'<svg class="loads" viewBox="0 0 {width} {row * len(g.names) + 8}" role="img" '
             f'aria-label="{_esc(g.group)} per outcome">']
    for k, name in enumerate(g.names):
        y = 4 + k * row
        v, o = values[k], other[k]
        x0, x1 = sorted((zero, label_w + scale * (v - lo)))
        parts.append(f'<text x="{label_w - 4}" y="{y + 11}" text-anchor="end">{_esc(name)[:24]}</text>')
        parts.append(f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 0.5):.1f}" height="9" '
                     'fill="#2e86c1"/>')
        xo = label_w + scale * (o - lo)
        parts.append(f'<line x1="{xo:.1f}" x2="{xo:.1f}" y1="{y + 1}" y2="{y + 14}" stroke="#8a949c" '
                     'stroke-width="2"/>')
        parts.append(f'<text x="{max(x1, zero) + 3:.1f}" y="{y + 12}">{v:.3g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _outcome_json(view: OutcomePairView) -> dict[str, object]:
    return {"query_id": view.query.id, "week": view.week_label,
            "groups": [asdict(g) for g in view.groups],
            "cost": {"a": view.cost_a, "b": view.cost_b},
            "guard": {"name": view.guard_name, "a": view.guard_a, "b": view.guard_b},
            "price_unit": view.price_unit_name}


def _view_json(view: PairView | OutcomePairView) -> dict[str, object]:
    if isinstance(view, OutcomePairView):
        return _outcome_json(view)

    def clean(d: DecisionView) -> dict[str, object]:
        out = asdict(d)
        out["load_after"] = [v if math.isfinite(v) else None for v in d.load_after]
        return out

    return {
        "query_id": view.query.id, "week": view.week_label, "regions": view.regions,
        "load_before": [v if math.isfinite(v) else None for v in view.load_before],
        "overflow_before": view.overflow_before, "pool": view.pool,
        "a": clean(view.a), "b": clean(view.b),
    }


class _TooManyFailures(Exception):
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


class _Guard:
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
                for key, value in _HEADERS.items():
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


class _GuardedStarlette(Starlette):
    """Starlette with :class:`_Guard` outside even its error middleware (so a 500 carries the
    headers too)."""

    max_body = 16_384

    def build_middleware_stack(self) -> ASGIApp:
        return _Guard(super().build_middleware_stack(), self.max_body)


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
    store: PreferenceStore = study.store
    limiter = limiter or FailureLimiter()

    def checked(request: Request, token: str | None,
                find: Callable[[str | None], RaterRecord | None]) -> RaterRecord | None:
        rater = find(token)
        if rater is None and token:
            address = request.client.host if request.client else "?"
            if limiter.blocked(address):
                raise _TooManyFailures
            limiter.fail(address)
        return rater

    def lookup(request: Request, token: str | None) -> RaterRecord | None:
        """The rater of an invite or API token."""
        return checked(request, token, store.rater_by_token)

    def session_rater(request: Request) -> RaterRecord | None:
        """The rater of the session cookie."""
        return checked(request, request.cookies.get(COOKIE), store.rater_by_session)

    async def too_many(request: Request, exc: Exception) -> Response:
        return PlainTextResponse("too many failed sign-in attempts; try again in a minute",
                                 status_code=429, headers={**_HEADERS, "Retry-After": "60"})
    secret = store.secret()
    env = Environment(loader=PackageLoader("fairtwin.elicit", "templates"),
                      autoescape=select_autoescape(["html"]))

    def page(name: str, status: int = 200, **ctx: object) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status,
                            headers=_HEADERS)

    def message(title: str, text: str, status: int, link: str = "", link_text: str = "") -> HTMLResponse:
        return page("message.html", status, title=title, text=text, link=link, link_text=link_text)

    def csrf_for(rater_id: int, query_id: int) -> str:
        return hmac.new(secret, f"{rater_id}:{query_id}".encode(), sha256).hexdigest()

    def bearer(request: Request) -> str | None:
        auth = request.headers.get("authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def json_error(status: int, text: str) -> JSONResponse:
        return JSONResponse({"error": text}, status_code=status, headers=_HEADERS)

    def home(request: Request) -> Response:
        return message("fairtwin elicitation study",
                       "Open the invite link you were given to start rating.", 200)

    def invite(request: Request) -> Response:
        """The invite page: who it is for and a Start button. No cookie is set here, so a link
        clicked in webmail or chat (a cross-site navigation) works: Start is a same-site POST."""
        token = request.path_params["token"]
        rater = lookup(request, token)
        if rater is None:
            return invalid_invite()
        return page("invite.html", rater=rater.name, token=token,
                    days=int(SESSION_LIFETIME_S // 86400))

    def invalid_invite() -> HTMLResponse:
        return message("Invalid invite link", "This invite link is not valid (or was revoked "
                       "or has expired). Ask the study organiser for a new one.", 403)

    def start(request: Request) -> Response:
        """Start (``POST /invite/{token}``): open a session and go to the first question.
        Refused when the browser says the form came from another site (login CSRF)."""
        if not same_origin(request):
            return message("Start from the invite page", "This request did not come from this "
                           "site's invite page; open your invite link and press Start.", 403)
        token = request.path_params["token"]
        rater = lookup(request, token)
        if rater is None:
            return invalid_invite()
        first = "/intro" if store.n_answers(rater.id) == 0 else "/rate"
        resp = RedirectResponse(first, status_code=303, headers=_HEADERS)
        resp.set_cookie(COOKIE, store.open_session(rater.id), httponly=True, samesite="strict",
                        secure=secure_cookies or request.url.scheme == "https",
                        max_age=int(SESSION_LIFETIME_S))
        return resp

    def not_signed_in() -> Response:
        return message("Not signed in", "Open the invite link you were given to start rating.",
                       403)

    def rate(request: Request) -> Response:
        rater = session_rater(request)
        if rater is None:
            return not_signed_in()
        query = study.next_query(rater.id)
        answered = store.n_answers(rater.id)
        if query is None and study.quota_reached(rater.id):
            return page("done.html", 200, rater=rater.name, answered=answered,
                        quota=study.brief.quota)
        if query is None:
            return message("Thank you!", f"You answered {answered} questions: every pair of "
                           "this study has been shown to you.", 200, *undo_link(rater.id))
        last = store.last_answer(rater.id)
        return question(rater, query, answered, last=last[1] if last else None)

    def undo_link(rater_id: int) -> tuple[str, str]:
        return ("/rate/previous", "Change my last answer") if store.last_answer(rater_id) else ("", "")

    def intro(request: Request) -> Response:
        """The intro: the question, the study's goal, the quota and a time estimate."""
        rater = session_rater(request)
        if rater is None:
            return not_signed_in()
        return page("intro.html", 200, rater=rater.name, goal=study.brief.goal,
                    quota=study.brief.quota, minutes=study.minutes_estimate())

    def previous(request: Request) -> Response:
        """The rater's last answered pair again, its answer marked, to change it (an undo)."""
        rater = session_rater(request)
        if rater is None:
            return not_signed_in()
        last = store.last_answer(rater.id)
        if last is None:
            return RedirectResponse("/rate", status_code=303)
        return question(rater, last[0], store.n_answers(rater.id), revisit=last[1])

    def question(rater: RaterRecord, query: Query, answered: int, last: str | None = None,
                 revisit: str | None = None) -> Response:
        """A question page; ``last`` offers to change that answer, ``revisit`` marks the
        answer being changed."""
        view = study.view(query)
        common = {"labels": CHOICE_LABELS, "rater": rater.name, "answered": answered,
                  "quota": study.brief.quota,
                  "view": view, "last": last, "revisit": revisit,
                  "csrf": csrf_for(rater.id, query.id)}
        if isinstance(view, OutcomePairView):
            return page("rate_outcomes.html", 200, **common,
                        charts={k: [_svg_group(g, k) for g in view.groups] for k in ("a", "b")})
        return page("rate.html", 200, **common,
                    charts={"a": _svg(view, view.a), "b": _svg(view, view.b)})

    async def answer_form(request: Request) -> Response:
        rater = await run_in_threadpool(session_rater, request)
        if rater is None:
            return message("Not signed in", "Open your invite link again.", 403)
        form = await request.form()
        try:
            query_id = int(str(form.get("query_id", "")))
        except ValueError:
            return message("Bad request", "The form is incomplete.", 400)
        token = str(form.get("csrf", ""))
        if not hmac.compare_digest(token, csrf_for(rater.id, query_id)):
            return message("Form expired", "This form was not issued to you; reload the page.",
                           403, "/rate", "Back to the questions")
        choice = str(form.get("choice", ""))
        if choice not in CHOICES:
            return message("Bad request", "Choose A, B, equally fair or I can't tell.", 400)
        response_ms = _float_or_none(form.get("response_ms"))
        try:
            outcome = await run_in_threadpool(study.answer, rater.id, query_id, choice, response_ms)
        except UnknownNameError:
            return message("Unknown question", "This question does not exist.", 404, "/rate",
                           "Back to the questions")
        if outcome is Outcome.CONFLICT:
            return message("Already answered", "You already answered this question "
                           "differently and have answered another since; only your last answer "
                           "can be changed, so this one is kept.", 409, "/rate", "Next question")
        return RedirectResponse("/rate", status_code=303, headers=_HEADERS)

    def api_next(request: Request) -> Response:
        rater = lookup(request, bearer(request))
        if rater is None:
            return json_error(401, "missing or wrong rater token")
        query = study.next_query(rater.id)
        progress = {"answered": store.n_answers(rater.id), "quota": study.brief.quota}
        if query is None:
            return JSONResponse({"done": True, **progress}, headers=_HEADERS)
        return JSONResponse({"done": False, **progress, **_view_json(study.view(query))},
                            headers=_HEADERS)

    async def api_answer(request: Request) -> Response:
        rater = await run_in_threadpool(lookup, request, bearer(request))
        if rater is None:
            return json_error(401, "missing or wrong rater token")
        try:
            body = json.loads(await request.body())
            query_id = body["query_id"]
            choice = str(body["choice"])
            if not isinstance(query_id, int) or isinstance(query_id, bool):
                raise TypeError("query_id must be an integer")
            response_ms = _float_or_none(body.get("response_ms"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            return json_error(422, "expected {'query_id': int, 'choice': 'a'|'b'|'tie'|'unsure'} "
                              f"({exc})")
        try:
            outcome = await run_in_threadpool(study.answer, rater.id, query_id, choice, response_ms)
        except UnknownNameError:
            return json_error(404, f"no query {query_id} was shown to this rater")
        except ValidationError as exc:
            return json_error(422, str(exc))
        if outcome is Outcome.CONFLICT:
            return json_error(409, f"query {query_id} was already answered differently, and "
                              "only the last answer can be changed")
        return JSONResponse({"outcome": outcome.value}, headers=_HEADERS)

    def admin_only(request: Request) -> JSONResponse | None:
        if not store.is_admin(bearer(request)):
            return json_error(401, "missing or wrong admin token")
        return None

    def admin_raters(request: Request) -> Response:
        if (denied := admin_only(request)) is not None:
            return denied
        raters = store.raters()
        totals = {k: sum(getattr(r, f"n_{k}") for r in raters)
                  for k in ("answers", "decided", "equal", "unsure")}
        return JSONResponse({"raters": [asdict(r) for r in raters], **totals,
                             "raters_answering": sum(r.n_answers > 0 for r in raters),
                             "pairs": study.n_pairs}, headers=_HEADERS)

    def admin_export(request: Request) -> Response:
        if (denied := admin_only(request)) is not None:
            return denied
        ds = study.export()
        buf = io.BytesIO()
        ds.write_npz(buf)
        return Response(buf.getvalue(), media_type="application/octet-stream", headers={
            **_HEADERS, "Content-Disposition": 'attachment; filename="preferences.npz"'})

    def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def body_too_large(request: Request, exc: Exception) -> Response:
        log.warning("cut off a request body over %d bytes to %s", max_body, request.url.path)
        return too_large_response(request.url.path, max_body)

    static = StaticFiles(directory=str(resources.files("fairtwin.elicit") / "static"))
    app = _GuardedStarlette(routes=[
        Route("/", home),
        Route("/invite/{token}", invite, methods=["GET"]),
        Route("/invite/{token}", start, methods=["POST"]),
        Route("/rate", rate),
        Route("/intro", intro),
        Route("/rate/previous", previous),
        Route("/rate/answer", answer_form, methods=["POST"]),
        Route("/api/next", api_next),
        Route("/api/answer", api_answer, methods=["POST"]),
        Route("/admin/raters", admin_raters),
        Route("/admin/export", admin_export),
        Route("/healthz", healthz),
        Mount("/static", static, name="static"),
    ], exception_handlers={_TooManyFailures: too_many, BodyTooLarge: body_too_large})
    app.max_body = max_body
    return app


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


def _float_or_none(value: object) -> float | None:
    try:
        v = float(str(value))
    except (TypeError, ValueError):
        return None
    return v if np.isfinite(v) and v >= 0 else None
