"""A 405's Allow header names what the address takes: every route declared at it (app.allowed_methods)."""

from __future__ import annotations

import re

from starlette.routing import Route

from server_sync.web.app import allowed_methods, route_table


def test_a_405_names_every_method_of_every_route_at_its_address():
    """What the app's 405 says (app.allowed_methods), for every address of the route table: the
    methods of all the routes declared at it, not only the first's."""
    routes = route_table()
    by_path: dict[str, set[str]] = {}
    for route in routes:
        if isinstance(route, Route):
            by_path.setdefault(route.path, set()).update(route.methods or ())
    for path, methods in by_path.items():
        concrete = re.sub(r"{\w+:int}", "7", re.sub(r"{\w+}", "s001", path))
        scope = {"type": "http", "method": "PATCH", "path": concrete, "root_path": "", "path_params": {}}
        assert allowed_methods(routes, scope) == sorted(methods), path
    assert by_path["/login"] == {"GET", "HEAD", "POST"}       # the address the check was written for
