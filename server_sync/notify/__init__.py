"""Notices that reach people where they already are: signed webhooks (Slack, Teams or plain
JSON) and e-mail, queued in the central store and delivered by a worker (`kiosk-central notify
run`), retried with backoff, failures kept visible. Whoever raises a notice (an alert, a digest)
only adds rows in its own transaction: delivery never blocks ingest.

Modules: `signing` (HMAC-SHA256 over timestamp and body, and its check), `bodies` (the JSON of
each webhook format), `queue` (what is due, what happened, backoff; what an e-mail address is),
`sender` (the HTTP and SMTP I/O), `http_post` (how a POST goes, and how an address is shown),
`deadline` (one exchange within a total deadline, stoppable), `smtp` (the centre's SMTP settings),
`smtp_errors` (what an SMTP error means for the queue, in words).
"""
