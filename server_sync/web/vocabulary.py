"""The web app's words the command line needs while it builds its parser, said once: the roles a
user may have and the events of the audit log. `kiosk-central user` makes its choices from them at
every start, so this module imports nothing: least of all peewee (people.py, audit.py), which a
command's parser must not wait for.
"""

ADMIN, ANALYST, REGIONAL, STORE = "admin", "analyst", "regional-manager", "store-manager"
ROLES: tuple[str, ...] = (ADMIN, ANALYST, REGIONAL, STORE)

AUDIT_EVENTS = ("login", "login_failed", "login_unknown_name", "login_locked", "logout", "password_changed",
                "password_change_failed", "export", "comments_viewed", "api_export")
# Failed and refused passwords: logged as warnings too, so a log collector sees them.
AUDIT_WARNINGS = ("login_failed", "login_unknown_name", "login_locked", "password_change_failed")
