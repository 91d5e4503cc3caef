"""The loop from an alert to a measured action (issue 14): who owns an alert, its due date,
state and outcome, its history and comments (`alerts`); actions with an owner, a type and a
closing verdict from the before/after analysis, and what worked elsewhere (`actions`); the notices
each step queues (`notices`); people's e-mail addresses (`people`).

Builds on the alert store (`server_sync.analysis.alerts`), the before/after statistics
(`server_sync.analysis.actions.evaluated`) and the notify queue (`server_sync.notify.queue`);
never evaluates a rule, never computes a statistic itself and never sends anything: notices are
queued rows in the caller's transaction, delivered by `kiosk-central notify run`.
"""
