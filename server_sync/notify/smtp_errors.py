"""What an SMTP error means for the mail queue: why no connection could be made, whether the
server ended the connection (its problem, no try of the mail's own, unless it took another mail
after it: `sender.deliver_mail`) or refused the mail itself, said in words. Pure: the worker
(`sender`) does the I/O."""

from __future__ import annotations

import smtplib

from server_sync.exc import CentralConfigError

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


def cannot_connect(host: str, port: int, e: Exception) -> str:
    """Why no connection could be made, every mail's problem: smtplib's errors (SMTPException is
    an OSError) before the network's, so a refused login is not read as a server that cannot be
    reached (a review: "cannot reach 127.0.0.1:PORT: (535, b'5.7.8 …')")."""
    server = f"the server {host}:{port}"
    if isinstance(e, CentralConfigError):
        return str(e)
    if isinstance(e, smtplib.SMTPAuthenticationError):
        return f"{server} refused the login: {_said(e.smtp_code, e.smtp_error)}"
    if isinstance(e, smtplib.SMTPNotSupportedError):
        # smtplib says which: "STARTTLS extension not supported by server." or "SMTP AUTH …"
        return (f"{server} does not offer STARTTLS, which --security starttls needs" if "STARTTLS" in str(e)
                else f"{server} offers no login (SMTP AUTH), which --username needs" if "AUTH" in str(e)
                else f"{server} does not offer what the settings need: {e}")
    if isinstance(e, smtplib.SMTPServerDisconnected):
        return f"{server} closed the connection: {e}"
    if isinstance(e, smtplib.SMTPResponseException):
        return f"{server} answered {_said(e.smtp_code, e.smtp_error)}"
    if isinstance(e, smtplib.SMTPException):
        return f"{server}: {e}"          # "No suitable authentication method found."
    if isinstance(e, OSError):
        return f"cannot reach {host}:{port}: {e}"
    return f"cannot connect to {host}:{port}: {type(e).__name__}: {e}"
