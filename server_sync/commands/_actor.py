"""Who does something to the workflow from the command line, for its history and its actions'
`created_by`: `--by` (a web app user who may act on the site, as in the web app), else
cli:<login>. Shared by `kiosk-central alerts …` and `action add`."""

from __future__ import annotations

from peewee import Database

from server_sync.exc import CentralConfigError

ACTOR_CHARS = 64            # alert_event.user_name and action.created_by are VARCHAR(64)


def actor(db: Database | None, by: str | None, site_id: str | None) -> str:
    """`by` once it names a user who may act at `site_id` (a typo would put nobody's name in the
    history, an analyst's or a disabled user's a hand that could not have done it; not checked
    without `db`), else cli:<login>."""
    if by:
        if db is not None and site_id is not None:
            from server_sync.web.people import require_user
            from server_sync.workflow.people import may_act, may_not_act
            if not may_act(db, require_user(db, by), site_id):
                raise CentralConfigError(f"--by: {may_not_act(by, site_id)}")
        return by
    import getpass

    from server_sync.protocol.codec import printable
    try:
        # From the environment (LOGNAME, USER): what a terminal would act on escaped, as any name
        # is kept free of it (_argtypes.nonblank_name), and cut to what the columns it goes in
        # hold (alert_event.user_name, action.created_by: 64): a directory login of 70 characters
        # was a DataError traceback on PostgreSQL (SQLite does not check a VARCHAR's length).
        return f"cli:{printable(getpass.getuser(), ACTOR_CHARS - len('cli:'))}"
    except (KeyError, OSError):
        return "cli"
