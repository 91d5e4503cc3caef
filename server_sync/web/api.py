"""The read-only JSON API under /api/v1, for BI scripts: the same page functions as the web pages
(the same figures, filters and scoping), authenticated by a user's API token
(`kiosk-central user token NAME`, sent as `Authorization: Bearer …`).

Its OpenAPI 3.1 description (/api/v1/openapi.json) is derived from the app's route table: every
route under /api/v1 is in it with its path parameters and the query parameters its page reads
(filters.PARAMETERS), so it cannot fall behind the routes. Never writes anything but the audit
log of downloads.
"""

from __future__ import annotations

import inspect
import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server_sync import __version__
from server_sync.web.filters import PARAMETERS
from server_sync.web.guard import api, public
from server_sync.web.pages import comments, fleet, lists, overview, site, sites

PREFIX = "/api/v1"

# path, page function (its query parameters: filters.takes), what it answers
ENDPOINTS = [
    ("/overview", overview.build,
     "Per question: headline metric, CSAT, change with verdict, daily series; today's answers; open alerts; fleet."),
    ("/sites", sites.build, "The shrunk site ranking with n and 95% intervals, and every site's figures."),
    ("/sites/{site_id}", site.build,
     "One site: figures, trends, heatmap, drivers, actions, alerts, kiosks, recent comments."),
    ("/comments", comments.build,
     "Comments newest first, 50 a page; scrubbed personal data appears as marks like [phone]."),
    ("/alerts", lists.alerts, "Alerts with their state, newest first."),
    ("/actions", lists.actions, "Actions with their before/after comparison and verdict."),
    ("/fleet", fleet.build, "Every kiosk's health; silent ones flagged."),
]


def routes() -> list[Route]:
    out = []
    for path, fn, summary in ENDPOINTS:
        endpoint = api(fn)
        endpoint.summary = summary
        out.append(Route(PREFIX + path, endpoint, methods=["GET"], name="api" + path.replace("/", "_")))
    out.append(Route(PREFIX + "/openapi.json", openapi, methods=["GET"], name="api_openapi"))
    return out


@public
async def openapi(request: Request) -> Response:
    return JSONResponse(describe(request.app.routes))


def describe(app_routes: list) -> dict:
    """OpenAPI 3.1 of every /api/v1 route in `app_routes` that is served with a token."""
    paths: dict[str, dict] = {}
    for route in app_routes:
        if not isinstance(route, Route) or not route.path.startswith(PREFIX):
            continue
        endpoint = route.endpoint
        if getattr(endpoint, "access", None) != "token":
            continue
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                      for name in re.findall(r"{(\w+)(?::\w+)?}", route.path)]
        parameters += [{"name": name, "in": "query", "required": False, "description": PARAMETERS[name],
                        "schema": {"type": "string"}} for name in (*endpoint.page.params, "format")]
        doc = inspect.getdoc(endpoint.page) or ""
        paths[route.path] = {"get": {
            "operationId": route.name, "summary": endpoint.summary, "description": doc,
            "parameters": parameters, "security": [{"token": []}],
            "responses": {"200": {"description": "JSON (or CSV / HTML with `format`)",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          "400": {"description": "a malformed filter"},
                          "401": {"description": "no valid API token"},
                          "403": {"description": "the token's user has not yet changed their one-time password"},
                          "404": {"description": "a site or region that does not exist or is not visible"},
                          "500": {"description": "the server met an error (its log says which)"}}}}
    return {"openapi": "3.1.0",
            "info": {"title": "Kundpuls central API", "version": __version__,
                     "description": "Read-only figures for BI scripts. Each token sees what its user may see."},
            "servers": [{"url": "/"}],
            "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer",
                                                         "description": "kiosk-central user token NAME"}}},
            "paths": paths}
