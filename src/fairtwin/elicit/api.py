"""The rater's JSON API (``Authorization: Bearer <rater token>``): the next pair, an answer."""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fairtwin.elicit.render import view_json
from fairtwin.elicit.store import Outcome
from fairtwin.elicit.web import HEADERS, AppContext, float_or_none
from fairtwin.exceptions import UnknownNameError, ValidationError

__all__ = ["api_routes"]


def api_routes(ctx: AppContext) -> list[Route]:
    store, study = ctx.store, ctx.study

    def api_next(request: Request) -> Response:
        rater = ctx.lookup(request, ctx.bearer(request))
        if rater is None:
            return ctx.json_error(401, "missing or wrong rater token")
        query = study.next_query(rater.id)
        progress = {"answered": store.n_answers(rater.id), "quota": study.brief.quota}
        if query is None:
            return JSONResponse({"done": True, **progress}, headers=HEADERS)
        return JSONResponse({"done": False, **progress, **view_json(study.view(query))},
                            headers=HEADERS)

    async def api_answer(request: Request) -> Response:
        rater = await run_in_threadpool(ctx.lookup, request, ctx.bearer(request))
        if rater is None:
            return ctx.json_error(401, "missing or wrong rater token")
        try:
            body = json.loads(await request.body())
            query_id = body["query_id"]
            choice = str(body["choice"])
            if not isinstance(query_id, int) or isinstance(query_id, bool):
                raise TypeError("query_id must be an integer")
            response_ms = float_or_none(body.get("response_ms"))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            return ctx.json_error(422, "expected {'query_id': int, 'choice': "
                                  f"'a'|'b'|'tie'|'unsure'}} ({exc})")
        try:
            outcome = await run_in_threadpool(study.answer, rater.id, query_id, choice, response_ms)
        except UnknownNameError:
            return ctx.json_error(404, f"no query {query_id} was shown to this rater")
        except ValidationError as exc:
            return ctx.json_error(422, str(exc))
        if outcome is Outcome.CONFLICT:
            return ctx.json_error(409, f"query {query_id} was already answered differently, "
                                  "and only the last answer can be changed")
        return JSONResponse({"outcome": outcome.value}, headers=HEADERS)

    return [Route("/api/next", api_next), Route("/api/answer", api_answer, methods=["POST"])]
