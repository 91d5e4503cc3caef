"""The retention periods of the central store, said once: each setting's name, its default and
the bounds `kiosk-central privacy set` takes. `retention` applies and checks them; the command line
makes its argument types and help from them while it builds its parser, at every start, so this
module imports nothing: least of all peewee, which a command's parser must not wait for.
"""

# name -> (default, minimum, maximum). The maximum is a century: retention counts back from today,
# and 100000 months lands before year 1 (a traceback in `retention run`).
PERIODS = {"comments_keep_months": (13, 1, 1200), "dead_letters_keep_days": (90, 1, 36500),
           "audit_keep_months": (24, 1, 1200),
           # Mail and webhook deliveries once delivered or given up: kept to see what went
           # (`notify deliveries`), each with a person's address or an action's note in it.
           "notices_keep_days": (90, 1, 36500)}
