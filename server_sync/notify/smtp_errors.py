"""What an SMTP error means for the mail queue: whether the server ended the connection (its
problem, no try of the mail's own) or refused the mail itself, said in words. Pure: the worker
(`sender`) does the I/O."""

from __future__ import annotations

import smtplib

CLOSING = 421       # "service not available, closing transmission channel": the server's state, any command


def _said(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def server_ended(e: BaseException) -> str | None:
    """Why the connection is over, when `e` says the server ended it while a mail was being sent:
    its 421 (to the mail's sender, a recipient or the data; smtplib then closes the connection)
    or its hanging up (smtplib's SMTPServerDisconnected; a reset). None when `e` is the mail's
    own failure (its address refused, its data refused for what it is)."""
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({e})" if str(e) else "the server closed the connection"
    if isinstance(e, ConnectionError):
        return f"the connection broke: {e}"
    if isinstance(e, smtplib.SMTPResponseException) and e.smtp_code == CLOSING:
        return f"the server ended the connection: {_said(e.smtp_code, e.smtp_error)}"
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        closing = [(code, message) for code, message in e.recipients.values() if code == CLOSING]
        if closing:
            return f"the server ended the connection: {_said(*closing[0])}"
    return None
