"""guard.read_form: a posted form's fields as the forms' checks read them."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

from starlette.requests import Request

from server_sync.web.guard import read_form
from server_sync.workflow.alerts import MAX_TEXT


def _posted(fields: dict[str, str]) -> Request:
    body = urlencode(fields).encode()

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}
    return Request({"type": "http", "method": "POST", "path": "/alerts/1/comment", "query_string": b"",
                    "headers": [(b"content-type", b"application/x-www-form-urlencoded"),
                                (b"content-length", str(len(body)).encode())]}, receive)


def test_line_breaks_are_read_as_one_character_whatever_the_browser_sent():
    """A textarea's line breaks are sent as CRLF: a comment typed up to its maxlength (2000, the
    line breaks counted as one each) reached the check as 2027 characters and was refused (a
    review). A lone CR (an old Mac's) is a line break too."""
    typed = "\n".join(["Kön var lång i dag"] * 106)[:MAX_TEXT]
    assert len(typed) == MAX_TEXT and typed.count("\n") > 100
    fields, problem = asyncio.run(read_form(_posted({"comment": typed.replace("\n", "\r\n"), "note": "a\rb"})))
    assert problem is None
    assert fields["comment"] == typed and fields["note"] == "a\nb"
