"""How the centre POSTs to a receiver (webhooks, `alerts check --webhook`): never following a
redirect. urllib follows a 302/303 by turning the POST into a GET to wherever it points, any
internal address included, with the signature headers, and the receiver's "200" then reads as a
delivered notice that never arrived. A 3xx is the receiver's failure, kept and tried again.
"""

from __future__ import annotations

import urllib.request


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):     # noqa: ANN001 - urllib's signature
        return None          # urllib then raises HTTPError(3xx) for the answer as it came


OPENER = urllib.request.build_opener(_NoRedirects())


def open_url(request: urllib.request.Request, timeout: float):
    """`urllib.request.urlopen(request, timeout=…)` without following redirects."""
    return OPENER.open(request, timeout=timeout)
