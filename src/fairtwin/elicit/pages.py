"""The rater's pages: invite and Start, intro, the question (and undo), the answer form, the
done page, and the language switch."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fairtwin.elicit.i18n import languages
from fairtwin.elicit.render import columns, fact_text, outcome_chart, panels
from fairtwin.elicit.store import CHOICES, SESSION_LIFETIME_S, Outcome, Query, RaterRecord
from fairtwin.elicit.study import OutcomePairView
from fairtwin.elicit.web import (
    COOKIE,
    HEADERS,
    LANG_COOKIE,
    AppContext,
    float_or_none,
    same_origin,
)
from fairtwin.exceptions import UnknownNameError

__all__ = ["rater_routes"]


def rater_routes(ctx: AppContext) -> list[Route]:
    """The routes of the rater's path through a study. Long for a reason: each nested function
    is one route's handler, closing over the study's store and context."""
    store, study = ctx.store, ctx.study

    def home(request: Request) -> Response:
        return ctx.message(request, "home", 200)

    def invalid_invite(request: Request) -> Response:
        return ctx.message(request, "invalid_invite", 403)

    def not_signed_in(request: Request) -> Response:
        return ctx.message(request, "not_signed_in", 403)

    def invite(request: Request) -> Response:
        """The invite page: who it is for and a Start button. No cookie is set here, so a link
        clicked in webmail or chat (a cross-site navigation) works: Start is a same-site POST."""
        token = request.path_params["token"]
        rater = ctx.lookup(request, token)
        if rater is None:
            return invalid_invite(request)
        return ctx.page(request, "invite.html", rater=rater.name, token=token,
                        days=int(SESSION_LIFETIME_S // 86400))

    def start(request: Request) -> Response:
        """Start (``POST /invite/{token}``): open a session and go to the first question.
        Refused when the browser says the form came from another site (login CSRF)."""
        if not same_origin(request):
            return ctx.message(request, "cross_site_start", 403)
        token = request.path_params["token"]
        rater = ctx.lookup(request, token)
        if rater is None:
            return invalid_invite(request)
        first = "/intro" if store.n_answers(rater.id) == 0 else "/rate"
        resp = RedirectResponse(first, status_code=303, headers=HEADERS)
        resp.set_cookie(COOKIE, store.open_session(rater.id), httponly=True, samesite="strict",
                        secure=ctx.secure_cookies or request.url.scheme == "https",
                        max_age=int(SESSION_LIFETIME_S))
        return resp

    def intro(request: Request) -> Response:
        """The intro: the question, the study's goal, the quota and a time estimate."""
        rater = ctx.session_rater(request)
        if rater is None:
            return not_signed_in(request)
        return ctx.page(request, "intro.html", rater=rater.name, goal=study.brief.goal,
                        quota=study.brief.quota, minutes=study.minutes_estimate())

    def rate(request: Request) -> Response:
        rater = ctx.session_rater(request)
        if rater is None:
            return not_signed_in(request)
        query = study.next_query(rater.id)
        answered = store.n_answers(rater.id)
        if query is None and study.quota_reached(rater.id):
            return ctx.page(request, "done.html", rater=rater.name, answered=answered,
                            quota=study.brief.quota)
        if query is None:
            link = ("/rate/previous", "change_last") if store.last_answer(rater.id) else ("", "")
            return ctx.message(request, "all_shown", 200, *link, n=answered)
        last = store.last_answer(rater.id)
        return question(request, rater, query, answered, last=last[1] if last else None)

    def previous(request: Request) -> Response:
        """The rater's last answered pair again, its answer marked, to change it (an undo)."""
        rater = ctx.session_rater(request)
        if rater is None:
            return not_signed_in(request)
        last = store.last_answer(rater.id)
        if last is None:
            return RedirectResponse("/rate", status_code=303)
        return question(request, rater, last[0], store.n_answers(rater.id), revisit=last[1])

    def question(request: Request, rater: RaterRecord, query: Query, answered: int,
                 last: str | None = None, revisit: str | None = None) -> Response:
        """A question page; ``last`` offers to change that answer, ``revisit`` marks the
        answer being changed."""
        t = ctx.texts(request)
        view = study.view(query)
        common: dict[str, Any] = {"rater": rater.name, "answered": answered, "quota": study.brief.quota,
                  "view": view, "last": last, "revisit": revisit,
                  "csrf": ctx.csrf_for(rater.id, query.id)}
        if isinstance(view, OutcomePairView):
            return ctx.page(request, "rate_outcomes.html", **common,
                            charts={k: [outcome_chart(g, k) for g in view.groups]
                                    for k in ("a", "b")})
        mv = view.members
        heads, chart_head = columns(mv, t)
        return ctx.page(request, "rate.html", **common, panels=panels(mv, t), heads=heads,
                        chart_head=chart_head, member=t.word(mv.member),
                        situation=[fact_text(f, t) for f in mv.situation],
                        reference=next((q for q in mv.quantities if q.chart), None))

    async def answer_form(request: Request) -> Response:
        rater = await run_in_threadpool(ctx.session_rater, request)
        if rater is None:
            return ctx.message(request, "signed_out", 403)
        form = await request.form()
        try:
            query_id = int(str(form.get("query_id", "")))
        except ValueError:
            return ctx.message(request, "form_incomplete", 400)
        token = str(form.get("csrf", ""))
        if not hmac.compare_digest(token, ctx.csrf_for(rater.id, query_id)):
            return ctx.message(request, "form_expired", 403, "/rate", "back_to_questions")
        choice = str(form.get("choice", ""))
        if choice not in CHOICES:
            return ctx.message(request, "bad_choice", 400)
        response_ms = float_or_none(form.get("response_ms"))
        try:
            outcome = await run_in_threadpool(study.answer, rater.id, query_id, choice, response_ms)
        except UnknownNameError:
            return ctx.message(request, "unknown_question", 404, "/rate", "back_to_questions")
        if outcome is Outcome.CONFLICT:
            return ctx.message(request, "already_answered", 409, "/rate", "next_question")
        return RedirectResponse("/rate", status_code=303, headers=HEADERS)

    def switch_language(request: Request) -> Response:
        """``/lang/{code}?next=/path``: the rater's language, remembered in a cookie."""
        code = request.path_params["code"]
        if code not in languages():
            return ctx.message(request, "unknown_language", 404)
        target = request.query_params.get("next", "/")
        if not target.startswith("/") or target.startswith("//") or "\\" in target:
            target = "/"  # only this site's pages
        resp = RedirectResponse(target, status_code=303, headers=HEADERS)
        resp.set_cookie(LANG_COOKIE, code, samesite="lax", max_age=365 * 86400,
                        secure=ctx.secure_cookies or request.url.scheme == "https")
        return resp

    return [
        Route("/", home),
        Route("/invite/{token}", invite, methods=["GET"]),
        Route("/invite/{token}", start, methods=["POST"]),
        Route("/intro", intro),
        Route("/rate", rate),
        Route("/rate/previous", previous),
        Route("/rate/answer", answer_form, methods=["POST"]),
        Route("/lang/{code}", switch_language),
    ]
