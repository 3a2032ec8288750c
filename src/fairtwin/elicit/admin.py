"""The organiser's pages and endpoints.

``GET /admin`` is an HTML page (sign in with the admin token once: it opens an organiser's
session, an HttpOnly, SameSite=Strict cookie on ``/admin`` of 12 hours): raters with their
answers by kind, progress to the quota, when they were last seen and their invite's state;
re-issue a lost invite (a new link, the old one stops), revoke or restore a rater; the panel
report (:mod:`fairtwin.elicit.panel`: agreement matrix, reliability, groups of raters who
disagree); CSV and ``.npz`` exports. The JSON and export endpoints also take ``Authorization: Bearer <admin
token>`` (scripts)."""

from __future__ import annotations

import csv
import hmac
import io
from dataclasses import asdict
from datetime import UTC, datetime
from hashlib import sha256

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from fairtwin.elicit.panel import PanelReport, panel_report
from fairtwin.elicit.store import PreferenceStore, invite_link
from fairtwin.elicit.web import HEADERS, AppContext, TooManyFailures, same_origin
from fairtwin.exceptions import ValidationError

__all__ = ["admin_routes", "ADMIN_COOKIE", "answers_csv"]

ADMIN_COOKIE = "fairtwin_admin"
_ACTIONS = ("reissue", "revoke", "restore")


def answers_csv(store: PreferenceStore) -> str:
    """Every answer as CSV: id, rater, choice, the pair (context row, decisions shown left and
    right), when (UTC, ISO 8601), response time, when it was last changed."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["answer", "rater", "choice", "context_row", "left_decision", "right_decision",
                  "created_utc", "response_ms", "changed_utc"])
    for a in store.answers():
        out.writerow([a.id, a.rater, a.choice, a.context_row, a.left_decision, a.right_decision,
                      _iso(a.created), "" if a.response_ms is None else f"{a.response_ms:.0f}",
                      _iso(a.changed) if a.changed is not None else ""])
    return buf.getvalue()


def _cell(report: PanelReport, i: int, j: int) -> str:
    """A cell of the agreement matrix: the share and the shared pairs, or a dash."""
    if i == j:
        return "—"
    if report.shared[i, j] == 0:
        return "(0)"
    return f"{report.agreement[i, j]:.2f} ({report.shared[i, j]})"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _date(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC") if t else ""


def admin_routes(ctx: AppContext) -> list[Route]:
    """The organiser's routes. Long for a reason: each nested function is one route's handler,
    closing over the study's store and context (as the rater's routes do)."""
    store, study = ctx.store, ctx.study

    def session(request: Request) -> str | None:
        sid = request.cookies.get(ADMIN_COOKIE)
        return sid if store.is_admin_session(sid) else None

    def allowed(request: Request) -> bool:
        return session(request) is not None or store.is_admin(ctx.bearer(request))

    def csrf(sid: str) -> str:
        return hmac.new(ctx.secret, f"admin:{sid}".encode(), sha256).hexdigest()

    def denied() -> JSONResponse:
        return ctx.json_error(401, "missing or wrong admin token")

    def admin_page(request: Request, status: int = 200, notice: str = "",
                   link: str = "") -> Response:
        sid = session(request)
        if sid is None:
            return ctx.page(request, "admin_login.html", status)
        quota = study.brief.quota
        seen = store.last_seen()
        records = store.raters()
        raters = [{"id": r.id, "name": r.name, "answers": r.n_answers, "decided": r.n_decided,
                   "equal": r.n_equal, "unsure": r.n_unsure, "state": store.token_state(r.id),
                   "seen": _date(seen.get(r.id))} for r in records]
        totals = {k: sum(getattr(r, f"n_{k}") for r in records)
                  for k in ("answers", "decided", "equal", "unsure")}
        return ctx.page(request, "admin.html", status, raters=raters, quota=quota,
                        csrf=csrf(sid), notice=notice, link=link, pairs=study.n_pairs,
                        totals=totals, answering=sum(r.n_answers > 0 for r in records),
                        panel=report(), cell=_cell)

    def admin_home(request: Request) -> Response:
        return admin_page(request)

    async def sign_in(request: Request) -> Response:
        """The admin token, once, from the sign-in form: opens the organiser's session."""
        if not same_origin(request):
            return ctx.message(request, "cross_site_start", 403)
        token = str((await request.form()).get("token", ""))
        if not store.is_admin(token):
            address = request.client.host if request.client else "?"
            if ctx.limiter.blocked(address):
                raise TooManyFailures
            ctx.limiter.fail(address)
            return ctx.page(request, "admin_login.html", 403, wrong=True)
        resp = RedirectResponse("/admin", status_code=303, headers=HEADERS)
        resp.set_cookie(ADMIN_COOKIE, store.open_admin_session(), path="/admin", httponly=True,
                        samesite="strict", max_age=12 * 3600,
                        secure=ctx.secure_cookies or request.url.scheme == "https")
        return resp

    async def act(request: Request) -> Response:
        """Re-issue, revoke or restore a rater's invite (a form of the admin page)."""
        sid = session(request)
        if sid is None or not same_origin(request):
            return admin_page(request, 403)
        form = await request.form()
        if not hmac.compare_digest(str(form.get("csrf", "")), csrf(sid)):
            return ctx.message(request, "form_expired", 403, "/admin", "admin.back")
        action, rid = request.path_params["action"], request.path_params["rater_id"]
        rater = next((r for r in store.raters() if r.id == rid), None)
        if rater is None or action not in _ACTIONS:
            return ctx.message(request, "admin.unknown", 404, "/admin", "admin.back")
        t = ctx.texts(request)
        try:
            if action == "reissue":
                _, token = store.reissue_token(rater.name)
                link = invite_link(str(request.base_url), token)
                return admin_page(request, notice=t("admin.reissued", name=rater.name), link=link)
            if action == "revoke":
                store.revoke_rater(rater.name)
            else:
                store.restore_rater(rater.name)
        except ValidationError as exc:
            return admin_page(request, 409, notice=str(exc))
        return admin_page(request, notice=t(f"admin.{action}d", name=rater.name))

    def report() -> PanelReport:
        return panel_report(store, study.anchor_pairs)

    def admin_panel(request: Request) -> Response:
        """The panel report as JSON (agreement matrix, reliability, groups, warnings)."""
        if not allowed(request):
            return denied()
        r = report()
        return JSONResponse({
            "names": r.names, "decided": r.decided, "anchor_pairs": r.n_anchor_pairs,
            "anchor_answers": r.anchor_answers,
            "agreement": [[None if np.isnan(v) else round(float(v), 4) for v in row]
                          for row in r.agreement],
            "shared": r.shared.tolist(),
            "reliability": [None if np.isnan(v) else v for v in r.reliability],
            "clusters": r.clusters, "enough": r.enough, "min_shared": r.min_shared,
            "threshold": r.threshold, "warnings": r.warnings}, headers=HEADERS)

    def admin_raters(request: Request) -> Response:
        if not allowed(request):
            return denied()
        raters = store.raters()
        totals = {k: sum(getattr(r, f"n_{k}") for r in raters)
                  for k in ("answers", "decided", "equal", "unsure")}
        seen = store.last_seen()
        listed = [{**asdict(r), "state": store.token_state(r.id), "last_seen": seen.get(r.id)}
                  for r in raters]
        return JSONResponse({"raters": listed, **totals,
                             "raters_answering": sum(r.n_answers > 0 for r in raters),
                             "quota": study.brief.quota, "pairs": study.n_pairs}, headers=HEADERS)

    def admin_export(request: Request) -> Response:
        if not allowed(request):
            return denied()
        buf = io.BytesIO()
        study.export().write_npz(buf)
        return Response(buf.getvalue(), media_type="application/octet-stream", headers={
            **HEADERS, "Content-Disposition": 'attachment; filename="preferences.npz"'})

    def admin_export_csv(request: Request) -> Response:
        if not allowed(request):
            return denied()
        return Response(answers_csv(store), media_type="text/csv; charset=utf-8", headers={
            **HEADERS, "Content-Disposition": 'attachment; filename="answers.csv"'})

    return [Route("/admin", admin_home, methods=["GET"]),
            Route("/admin", sign_in, methods=["POST"]),
            Route("/admin/raters/{rater_id:int}/{action}", act, methods=["POST"]),
            Route("/admin/raters", admin_raters), Route("/admin/panel", admin_panel),
            Route("/admin/export", admin_export),
            Route("/admin/export.csv", admin_export_csv)]
