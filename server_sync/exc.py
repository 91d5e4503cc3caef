"""Errors of the centre: one base class, each also the built-in it resembles. The CLI turns them
into `kiosk-central: error: …` with a non-zero exit."""

from server_sync.protocol.errors import KundpulsError, ProtocolError, SettingError


# What a URL (the database's, a webhook's) whose password was written as it is says
# (docs/deployment.md, A4).
PERCENT_ENCODE = ("a password with / # ? @ or % in it must be percent-encoded in the URL (/ as %2F, "
                  "# as %23, ? as %3F, @ as %40, % as %25), or choose one of letters and digits only")


class CentralError(KundpulsError):
    """Base of every error the centre raises on purpose."""


class CentralConfigError(CentralError, SettingError):
    """A bad argument, database URL or file."""


class FieldError(CentralConfigError):
    """A value given to the alert and action workflow that its rule refuses, said for two
    readers: str() is the command line's message, naming its option ("--note must say what the
    site changed"); `field` (the value's name in the library: "note", "due_date", …; None for the
    item itself), `problem` ("bad_day", "empty", "too_long", "not_offered", "not_at_site",
    "may_not_act", "closed", "before", "after", "itself") and `values` (what a message shows: `value`, `length`, `most`) let
    the web app's forms say it in their own words: the field by its label, in the person's
    language (web/pages/workflow.py)."""

    def __init__(self, message: str, field: str | None, problem: str, **values: object) -> None:
        super().__init__(message)
        self.field = field
        self.problem = problem
        self.values = values


class StoredSettingError(CentralConfigError):
    """A setting kept in the store (`central_setting`, or a site's time zone or opening hours) that
    its command would not store: a row edited by hand. The operator's to fix, not the request's: the
    web app answers it with an error page and a line in its log, not a 400; ingest refuses the
    answers it would count wrongly until it is fixed. str() names the setting (and the site), its
    value, what it should be and the fix; `fix` is that fix alone, for a page that may not name the
    rest: the kiosk-central command that sets it again (central/setting.stored_error)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


__all__ = ["CentralError", "CentralConfigError", "FieldError", "ProtocolError", "StoredSettingError"]
