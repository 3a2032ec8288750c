"""The organiser's endpoints (``Authorization: Bearer <admin token>``): raters and counts as
JSON, the answers as a preference dataset (``.npz``)."""

from __future__ import annotations

import io
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fairtwin.elicit.web import HEADERS, AppContext

__all__ = ["admin_routes"]


def admin_routes(ctx: AppContext) -> list[Route]:
    store, study = ctx.store, ctx.study

    def admin_only(request: Request) -> JSONResponse | None:
        if not store.is_admin(ctx.bearer(request)):
            return ctx.json_error(401, "missing or wrong admin token")
        return None

    def admin_raters(request: Request) -> Response:
        if (denied := admin_only(request)) is not None:
            return denied
        raters = store.raters()
        totals = {k: sum(getattr(r, f"n_{k}") for r in raters)
                  for k in ("answers", "decided", "equal", "unsure")}
        return JSONResponse({"raters": [asdict(r) for r in raters], **totals,
                             "raters_answering": sum(r.n_answers > 0 for r in raters),
                             "pairs": study.n_pairs}, headers=HEADERS)

    def admin_export(request: Request) -> Response:
        if (denied := admin_only(request)) is not None:
            return denied
        buf = io.BytesIO()
        study.export().write_npz(buf)
        return Response(buf.getvalue(), media_type="application/octet-stream", headers={
            **HEADERS, "Content-Disposition": 'attachment; filename="preferences.npz"'})

    return [Route("/admin/raters", admin_raters), Route("/admin/export", admin_export)]
