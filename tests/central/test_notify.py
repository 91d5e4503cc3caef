"""Notices reach people: webhooks signed with HMAC-SHA256 (and a timestamp against replay),
retried with backoff until a receiver that was down comes back, failures visible; mail through a
real local SMTP server, with a plain-text and an HTML part. Queuing is an INSERT: nothing waits
for a network. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server_sync.central.setting import set_setting
from server_sync.cli import main
from server_sync.exc import CentralConfigError
from server_sync.notify import bodies, queue, sender, signing, smtp
from server_sync.notify.bodies import Notice
from tests.fixtures.broker import free_tcp_port
from tests.fixtures.cli import central, said_error
from tests.fixtures.mail import LocalSmtp
from tests.fixtures.webhooks import Receiver

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
NOTICE = Notice("alert.raised", "Dip at Södermalm", "Happy Index 48 against 71 the last 4 weeks",
                site_id="s1", url="https://kundpuls.example/sites/s1", facts=(("Answers", "24"), ("Site", "s1")))


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(**kw) -> Receiver:
        r = Receiver(**kw)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def test_signature_round_trip_tamper_and_replay():
    secret, body = signing.new_secret(), b'{"a":1}'
    headers = signing.signed_headers(secret, 1_700_000_000, "41", body)
    assert signing.verify(secret, headers, body, now=1_700_000_100)
    assert not signing.verify(secret, {**headers, signing.DELIVERY_HEADER: "42"}, body, now=1_700_000_100)
    assert not signing.verify(secret, {k: v for k, v in headers.items() if k != signing.DELIVERY_HEADER}, body,
                              now=1_700_000_100)
    # A receiver that keeps the ids it took does each delivery's work once: a copy replayed
    # inside the window and the retries (a new timestamp each, the same id: 1, 3, 7 minutes
    # later...) are "seen" (answered 2xx, nothing done), up to the last retry ~20.5 h later.
    seen: dict = {}
    assert signing.check(secret, headers, body, now=1_700_000_100, seen=seen) == "new"
    assert signing.check(secret, headers, body, now=1_700_000_160, seen=seen) == "seen"
    for later in (60, 180, 420, 20 * 3600 + 1800):
        retry = signing.signed_headers(secret, 1_700_000_000 + later, "41", body)
        assert signing.check(secret, retry, body, now=1_700_000_000 + later + 1, seen=seen) == "seen"
    other = signing.signed_headers(secret, 1_700_000_400, "42", body)
    assert signing.check(secret, other, body, now=1_700_000_420, seen=seen) == "new" and set(seen) == {"41", "42"}
    # Only digits as the id: where the body begins is never in doubt.
    tricky = b'{"a":"x.y"}'
    forged = dict(signing.signed_headers(secret, 1_700_000_000, "5", tricky))
    forged[signing.DELIVERY_HEADER] = '5.{"a":"x'
    assert signing.check(secret, forged, b'y"}', now=1_700_000_010) == "invalid"
    assert not signing.verify(secret, headers, body + b" ", now=1_700_000_100)           # body changed
    assert not signing.verify("other", headers, body, now=1_700_000_100)                 # wrong secret
    assert not signing.verify(secret, headers, body, now=1_700_000_000 + 301)           # replayed later
    assert not signing.verify(secret, {**headers, signing.TIMESTAMP_HEADER: "1700000050"}, body, now=1_700_000_100)


def test_bodies_for_slack_teams_and_json():
    slack = json.loads(bodies.body("slack", NOTICE))
    assert slack["text"].startswith("Dip at Södermalm") and slack["blocks"][0]["type"] == "header"
    assert slack["blocks"][-1]["elements"][0]["url"] == NOTICE.url
    teams = json.loads(bodies.body("teams", NOTICE))
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["body"][2]["facts"][0] == {"title": "Answers", "value": "24"}
    plain = json.loads(bodies.body("json", NOTICE))
    assert plain["type"] == "kundpuls.notice" and plain["event"] == "alert.raised" and plain["site_id"] == "s1"
    with pytest.raises(ValueError):
        bodies.body("fax", NOTICE)


def test_what_people_wrote_reaches_slack_and_teams_as_text_not_markup():
    """A store manager's note (or a site name) goes to the chain's channel: in Slack it must not
    ping everyone or hide a link under other words, nor in Teams make a link."""
    note = "Ny skylt <!channel> <https://evil.example/login|Logga in på Kundpuls igen> & [klicka](https://evil.example)"
    notice = Notice("action.closed", "Åtgärd <!here> stängd", note, "s1", "https://kundpuls.example/actions/6",
                    (("Vad ändrades", note),))
    slack = json.loads(bodies.body("slack", notice))
    shown = [slack["text"], slack["blocks"][1]["text"]["text"], slack["blocks"][2]["fields"][0]["text"]]
    assert all("<" not in t and ">" not in t for t in shown), shown
    assert "&lt;!channel&gt; &lt;https://evil.example/login|Logga in på Kundpuls igen&gt; &amp; [klicka]" in shown[1]
    assert slack["blocks"][0]["text"] == {"type": "plain_text", "text": "Åtgärd <!here> stängd"}    # plain: as is
    card = json.loads(bodies.body("teams", notice))["attachments"][0]["content"]
    texts = [card["body"][0]["text"], card["body"][1]["text"], card["body"][2]["facts"][0]["value"]]
    assert all("[klicka](" not in t for t in texts) and r"\[klicka\](https://evil.example)" in texts[1]
    assert json.loads(bodies.body("json", notice))["text"] == note                   # JSON: the words as written


def test_a_receiver_that_redirects_has_failed_and_the_notice_goes_nowhere_else(receivers):
    """urllib follows a 303 by sending a GET, signature headers and all, wherever it points (an
    internal address), and reported the notice delivered. A 3xx is the receiver's failure."""
    from server_sync.analysis import alerts
    internal = receivers()
    bouncer = receivers(redirect_to=internal.url + "?admin=1")
    assert sender.post(bouncer.url, b"{}", {"X-Kundpuls-Signature": "v1=x"}) == (False, "HTTP 303")
    assert alerts.post_webhook(bouncer.url, {"id": 1, "site_id": "s1"}, timeout_s=2) == "error: HTTP 303"
    assert len(bouncer.got) == 2 and internal.got == [] and internal.gets == []


def test_webhooks_are_signed_retried_with_backoff_and_recover(central_db, receivers):
    db = central_db
    good, flaky = receivers(), receivers(fail_first=2)
    a = queue.add_endpoint(db, "slack-office", good.url, "slack", NOW)
    b = queue.add_endpoint(db, "teams-region", flaky.url, "teams", NOW)
    down = queue.add_endpoint(db, "nobody-home", f"http://127.0.0.1:{free_tcp_port()}/x", "json", NOW)
    start = time.monotonic()
    with db.atomic():
        assert queue.enqueue_webhooks(db, NOTICE, NOW) == 3
    assert time.monotonic() - start < 0.5                  # queuing waits for no network
    assert good.got == [] and flaky.got == []

    now = NOW
    assert sender.deliver_webhooks(db, now) == 1
    (headers, body), = good.got
    assert signing.verify(a.secret, headers, body, now=time.time()) and json.loads(body)["blocks"]
    failed = {d["to"]: d for d in queue.deliveries(db, failed_only=True)}
    assert set(failed) == {"teams-region", "nobody-home"} and failed["teams-region"]["last_error"] == "HTTP 500"
    assert sender.deliver_webhooks(db, now) == 0           # not due again before the backoff
    now += timedelta(seconds=61)
    sender.deliver_webhooks(db, now)                       # second try: 500 again
    now += timedelta(seconds=121)
    assert sender.deliver_webhooks(db, now) == 1           # third try: the receiver is back
    assert len(flaky.got) == 3 and all(signing.verify(b.secret, h, body, now=time.time()) for h, body in flaky.got)
    # Every try of one delivery carries its id: a receiver that handled the first can tell.
    assert len({h[signing.DELIVERY_HEADER] for h, _b in flaky.got}) == 1
    assert flaky.got[0][0][signing.DELIVERY_HEADER] != good.got[0][0][signing.DELIVERY_HEADER]
    state = {d["to"]: (d["state"], d["attempts"]) for d in queue.deliveries(db)}
    assert state == {"slack-office": ("delivered", 1), "teams-region": ("delivered", 3), "nobody-home": ("waiting", 3)}
    for _ in range(queue.MAX_ATTEMPTS):                    # a receiver that never comes back: given up, kept
        now += timedelta(hours=7)
        sender.deliver_webhooks(db, now)
    assert {d["to"]: d["state"] for d in queue.deliveries(db)}["nobody-home"] == "failed"
    assert down.id


def test_retry_delay_doubles_up_to_six_hours():
    assert [queue.retry_delay(n).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert queue.retry_delay(30).total_seconds() == 6 * 3600


def test_mail_goes_through_a_real_smtp_server_with_text_and_html(central_db):
    with LocalSmtp() as server:
        db = central_db
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        with db.atomic():
            queue.enqueue_mail(db, "anna@example.se", "Kundpuls: dip at Södermalm", "Happy Index 48.\nSee the site page.",
                               "<p>Happy Index <b>48</b>.</p>", NOW)
        assert sender.deliver_mail(db, NOW) == 1
    [msg] = server.messages
    assert msg["To"] == "anna@example.se" and msg["From"] == "kundpuls@example.se"
    assert msg["Subject"] == "Kundpuls: dip at Södermalm" and msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("plain",)).get_content().startswith("Happy Index 48.")
    assert "<b>48</b>" in msg.get_body(("html",)).get_content()
    assert queue.deliveries(db)[0]["state"] == "delivered"


def test_mail_waits_when_no_server_is_set_or_the_server_is_down(central_db):
    db = central_db
    with db.atomic():
        queue.enqueue_mail(db, "anna@example.se", "s", "t", "<p>t</p>", NOW)
    assert sender.deliver_mail(db, NOW) == 0 and queue.deliveries(db)[0]["state"] == "waiting"
    port = free_tcp_port()
    smtp.save(db, smtp.SmtpSettings("127.0.0.1", port, "kundpuls@example.se", security="none"))
    assert sender.deliver_mail(db, NOW) == 0
    d = queue.deliveries(db, failed_only=True)[0]
    assert d["state"] == "waiting" and "cannot reach" in d["last_error"]
    # A weekend's outage: looked at every few minutes for 60 hours, never given up (12 tries of
    # its own used to give it up after about 20 hours), and sent once the server is back.
    at = NOW
    for _ in range(60):
        at += timedelta(hours=1)
        assert sender.deliver_mail(db, at) == 0
    d = queue.deliveries(db, failed_only=True)[0]
    assert d["state"] == "waiting" and d["attempts"] == 0 and "cannot reach" in d["last_error"]
    with LocalSmtp(port=port) as server:
        assert sender.deliver_mail(db, at + timedelta(minutes=5)) == 1
    assert len(server.messages) == 1 and queue.deliveries(db)[0]["state"] == "delivered"


def _thirty_mails(db, port: int) -> None:
    smtp.save(db, smtp.SmtpSettings("127.0.0.1", port, "kundpuls@example.se", security="none"))
    with db.atomic():
        for i in range(30):
            queue.enqueue_mail(db, "anna@example.se", f"m{i:02d}", "t", "<p>t</p>", NOW)


@pytest.mark.parametrize("hang_up", [False, True], ids=["421", "hang-up"])
def test_a_server_that_takes_two_mails_a_connection_gets_them_all_in_one_round(central_db, hang_up):
    """A mail server that takes 2 mails a connection, then answers 421 or hangs up: every mail
    after that was a failed try on a dead connection (a review: 30 mails, 12 rounds, 6 given up
    and 5 never offered to the server). The worker connects again and the mail that met the end
    of the connection goes first, no try counted but the one that went."""
    db = central_db
    with LocalSmtp(per_connection=2, hang_up=hang_up) as server:
        _thirty_mails(db, server.port)
        assert sender.deliver_mail(db, NOW) == 30
    assert sorted(m["Subject"] for m in server.messages) == [f"m{i:02d}" for i in range(30)]
    assert {(d["state"], d["attempts"], d["last_error"]) for d in queue.deliveries(db)} == {("delivered", 1, None)}


def test_a_server_that_cannot_be_reached_again_ends_the_round(central_db):
    """The server took 2 mails, answered 421, and then refuses connections: the mail in hand
    waits with that reason, the others are not tried this round."""
    db, connections = central_db, []

    def connect(settings, sockets):
        connections.append(1)
        if len(connections) > 1:
            raise ConnectionRefusedError(111, "Connection refused")
        return sender.smtp_connection(settings, sockets)
    with LocalSmtp(per_connection=2) as server:
        _thirty_mails(db, server.port)
        assert sender.deliver_mail(db, NOW, connect=connect) == 2
    state = {d["what"]: d for d in queue.deliveries(db)}
    assert state["m02"]["attempts"] == 0 and state["m02"]["state"] == "waiting"
    assert state["m02"]["last_error"] == f"cannot reach 127.0.0.1:{server.port}: [Errno 111] Connection refused"
    assert {(d["attempts"], d["last_error"]) for w, d in state.items() if w > "m02"} == {(0, None)}


@pytest.mark.parametrize("hang_up", [False, True], ids=["421", "hang-up"])
def test_a_server_that_ends_each_connection_at_once_costs_no_mail_a_try(central_db, hang_up):
    """A server that answers 421 to the first mail (or hangs up): the server's problem, as one
    that cannot be reached, so no try of any mail's own. The worker sets that mail aside and tries
    the next on a new connection (a mail the server alone refuses must not hold up the others),
    MAX_SET_ASIDE of them at most, each a connection: they wait (their reason shown), those after
    them are not tried this round (not claimed, still due), and none is ever given up for it."""
    db, connections = central_db, []
    port = free_tcp_port()
    at = NOW

    def connect(settings, sockets):
        connections.append(1)
        return sender.smtp_connection(settings, sockets)
    with LocalSmtp(port=port, per_connection=0, hang_up=hang_up):
        _thirty_mails(db, port)
        assert sender.deliver_mail(db, at, connect=connect) == 0
        assert len(connections) == sender.MAX_SET_ASIDE
        state = sorted((d["what"], d["attempts"], d["next_attempt_at"], d["last_error"]) for d in queue.deliveries(db))
        first_wait = str((NOW + timedelta(seconds=queue.SERVER_DOWN_DELAY_S)).replace(tzinfo=None))
        aside = state[:sender.MAX_SET_ASIDE]
        assert [s[:2] for s in aside] == [(f"m{i:02d}", 0) for i in range(sender.MAX_SET_ASIDE)], aside
        assert all(s[2] >= first_wait for s in aside), aside
        said = "the server closed the connection" if hang_up else "421 4.7.0 Too many messages"
        assert all(said in s[3] for s in aside), aside
        assert {s[1:] for s in state[sender.MAX_SET_ASIDE:]} == {(0, str(NOW.replace(tzinfo=None)), None)}  # untried
        for _ in range(queue.MAX_ATTEMPTS + 2):
            at += timedelta(minutes=6)
            assert sender.deliver_mail(db, at, connect=connect) == 0
        assert len(connections) == sender.MAX_SET_ASIDE * (queue.MAX_ATTEMPTS + 3)
    assert {(d["state"], d["attempts"]) for d in queue.deliveries(db)} == {("waiting", 0)}
    with LocalSmtp(port=port) as server:
        assert sender.deliver_mail(db, at + timedelta(minutes=6)) == 30
    assert len(server.messages) == 30


def _poisoned(raw: bytes) -> bool:
    return b"Subject: poison" in raw


@pytest.mark.parametrize("hang_up", [False, True], ids=["421", "hang-up"])
@pytest.mark.parametrize("where", [0, 4, 9], ids=["first", "between", "last"])
def test_a_mail_the_server_always_ends_the_connection_on_is_tried_and_given_up_and_holds_up_no_other(
        central_db, hang_up, where):
    """A content filter that drops the connection (or answers 421) on one mail, every time, while
    it takes the others: that mail was taken for a server outage, so it waited every 5 minutes for
    ever, no try counted, and the mails after it waited for the next round (a review). Now its
    ending counts as a try of its own when the server takes another mail after it, on a new
    connection that skips it: the usual backoff, given up after MAX_ATTEMPTS, shown as failed; the
    others all go in the first round. Mail taken only before it tells nothing (a server whose
    quota is used up ends the connection on every mail from then on), so last of its round, or
    alone in it, it waits, no try counted, and is charged in the next round that sends mail after it."""
    db, still = central_db, lambda: 0.0      # each round's records at its start
    last = where == 9
    with LocalSmtp(ends_on=_poisoned, hang_up=hang_up) as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        with db.atomic():
            for i in range(10):
                queue.enqueue_mail(db, "anna@example.se", "poison" if i == where else f"m{i:02d}", "t", "<p>t</p>", NOW)
        assert sender.deliver_mail(db, NOW, clock=still) == 9
        assert sorted(m["Subject"] for m in server.messages) == sorted(f"m{i:02d}" for i in range(10) if i != where)

        def poison() -> dict:
            [d] = [d for d in queue.deliveries(db) if d["what"] == "poison"]
            return d
        d = poison()
        said = "the server closed the connection" if hang_up else "421 4.7.1 Message dropped by the content filter"
        assert said in d["last_error"], d
        if last:                             # nothing went after it: it waits, as in an outage
            assert (d["state"], d["attempts"]) == ("waiting", 0), d
            assert "while it took others" not in d["last_error"], d
            assert d["next_attempt_at"] == str((NOW + timedelta(seconds=queue.SERVER_DOWN_DELAY_S)).replace(tzinfo=None))
            at = NOW + timedelta(seconds=queue.SERVER_DOWN_DELAY_S)
        else:
            assert (d["state"], d["attempts"]) == ("waiting", 1), d
            assert d["last_error"].startswith("the server ended the connection on this mail while it took others: "), d
            assert d["next_attempt_at"] == str((NOW + queue.retry_delay(1)).replace(tzinfo=None))
            at = NOW + queue.retry_delay(1)
        charged = d["attempts"]
        # Alone in its round, the server takes nothing: the server's problem, no try counted.
        assert sender.deliver_mail(db, at, clock=still) == 0
        assert (poison()["state"], poison()["attempts"]) == ("waiting", charged)
        at += timedelta(seconds=queue.SERVER_DOWN_DELAY_S)
        # With other mail after it in its rounds, each round is a try: given up after MAX_ATTEMPTS.
        for attempt in range(charged + 1, queue.MAX_ATTEMPTS + 1):
            with db.atomic():
                queue.enqueue_mail(db, "bo@example.se", f"n{attempt:02d}", "t", "<p>t</p>", at)
            assert sender.deliver_mail(db, at, clock=still) == 1
            assert poison()["attempts"] == attempt
            at += queue.retry_delay(attempt)
    d = poison()
    assert d["state"] == "failed" and d["attempts"] == queue.MAX_ATTEMPTS and said in d["last_error"]
    assert [f["what"] for f in queue.deliveries(db, failed_only=True) if f["state"] == "failed"] == ["poison"]
    assert len(server.raw) == 9 + queue.MAX_ATTEMPTS - charged
    assert {d["state"] for d in queue.deliveries(db) if d["what"] != "poison"} == {"delivered"}


@pytest.mark.parametrize("hang_up", [False, True], ids=["421", "hang-up"])
def test_a_server_that_takes_some_mail_then_ends_every_connection_charges_no_mail_a_try(central_db, hang_up):
    """A server that takes 5 mails and then ends the connection on every mail (a sending quota, an
    overload): the sixth ends its connection after others went, is tried on a new one, ends that
    at once and is set aside with the next two. The round sent 5, so all three were charged a try
    ("... while it took others"), retried after a minute and, under a quota that lasts, given up
    (a review). The server took nothing after them: its problem, so they wait, no try counted,
    and go when the quota is over."""
    db, still, taken = central_db, lambda: 0.0, []
    quota = [5]

    def over_quota(raw: bytes) -> bool:
        if len(taken) < quota[0]:
            taken.append(raw)
            return False
        return True
    with LocalSmtp(ends_on=over_quota, hang_up=hang_up) as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        with db.atomic():
            for i in range(10):
                queue.enqueue_mail(db, "anna@example.se", f"m{i:02d}", "t", "<p>t</p>", NOW)
        at = NOW
        assert sender.deliver_mail(db, at, clock=still) == 5
        for _ in range(queue.MAX_ATTEMPTS + 2):        # the quota lasts: nothing goes, nothing is charged
            at += timedelta(minutes=6)
            assert sender.deliver_mail(db, at, clock=still) == 0
        state = {d["what"]: d for d in queue.deliveries(db) if d["state"] != "delivered"}
        assert sorted(state) == [f"m{i:02d}" for i in range(5, 10)]
        assert {(d["state"], d["attempts"]) for d in state.values()} == {("waiting", 0)}, state
        assert not any("while it took others" in (d["last_error"] or "") for d in state.values()), state
        quota[0] = 100                                # the quota is over: the five go
        assert sender.deliver_mail(db, at + timedelta(minutes=6), clock=still) == 5
    assert sorted(server.messages[i]["Subject"] for i in range(10)) == [f"m{i:02d}" for i in range(10)]
    assert {(d["state"], d["attempts"]) for d in queue.deliveries(db)} == {("delivered", 1)}


def test_the_commands(central_url, central_db, receivers, capsys):
    r = receivers()
    assert main(["--db", central_url, "notify", "webhook", "add", "office", "--url", r.url, "--format", "slack"]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["--db", central_url, "notify", "test"]) == 0
    assert main(["--db", central_url, "notify", "run", "--once"]) == 0
    assert "delivered 1 webhook(s)" in capsys.readouterr().out
    (headers, body), = r.got
    assert signing.verify(secret, headers, body, now=time.time())
    assert main(["--db", central_url, "notify", "deliveries", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["state"] == "delivered"
    assert main(["--db", central_url, "notify", "webhook", "add", "bad name", "--url", r.url]) == 2
    assert main(["--db", central_url, "notify", "webhook", "add", "x", "--url", "ftp://x"]) == 2


BAD_URLS = ("https://example.com:abc/hook", "https://exa mple.com/hook", "https://[::1/hook", "https://[zz]/hook",
            "https://example.com:0/hook", "https://example.com:70000/hook", "http:///hook", "https://example.com/h\u00f6k",
            # No resolver can encode these host names: they failed at each delivery (a review).
            "https://hooks..example.com/hook", "https://" + "x" * 64 + ".example.com/hook")


@pytest.mark.parametrize("url", BAD_URLS)
def test_webhook_add_refuses_an_address_it_could_not_post_to(central_url, central_db, url, capsys):
    assert main(["--db", central_url, "notify", "webhook", "add", "w2", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiosk-central: error: --url ") and "Traceback" not in err
    assert main(["--db", central_url, "notify", "web-url", url]) == 2


def test_a_bad_address_stored_before_the_check_fails_its_delivery_not_the_worker(central_db, receivers):
    db, good = central_db, receivers()
    queue.add_endpoint(db, "good", good.url, "json", NOW)
    for i, url in enumerate(BAD_URLS[:3]):              # as an older version let them in
        queue.add_endpoint(db, f"old{i}", good.url, "json", NOW)
        db.execute_sql(f"UPDATE webhook_endpoint SET url = {db.param} WHERE name = {db.param}", (url, f"old{i}"))
    with db.atomic():
        assert queue.enqueue_webhooks(db, NOTICE, NOW) == 4
    assert sender.deliver_webhooks(db, NOW) == 1 and len(good.got) == 1
    failed = {d["to"]: d for d in queue.deliveries(db, failed_only=True)}
    assert set(failed) == {"old0", "old1", "old2"}
    assert all(d["state"] == "waiting" and d["attempts"] == 1 and d["last_error"] for d in failed.values())
    assert "nonnumeric port" in failed["old0"]["last_error"] and "IPv6" in failed["old2"]["last_error"]


def test_what_another_worker_took_is_not_sent_again(central_db, receivers):
    """Two workers at once (the service and a hand-run `notify run --once`): each delivery and
    mail goes from the one that took it (`queue.claim`), not from both (a review: each sent every
    one). Taken and never recorded (its worker was killed), it is due again after the claim."""
    db, good = central_db, receivers()
    queue.add_endpoint(db, "a", good.url, "json", NOW)
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
        queue.enqueue_webhooks(db, NOTICE, NOW)
        queue.enqueue_mail(db, "anna@example.se", "one", "t", "<p>t</p>", NOW)
        queue.enqueue_mail(db, "anna@example.se", "two", "t", "<p>t</p>", NOW)
    hooks = [d.id for d in queue.due_webhooks(db, NOW)]
    mails = [m.id for m in queue.due_mail(db, NOW)]
    assert queue.claim(db, "webhook_delivery", hooks[0], NOW) and queue.claim(db, "mail_outbox", mails[0], NOW)
    assert not queue.claim(db, "webhook_delivery", hooks[0], NOW)            # one worker each
    assert sender.deliver_webhooks(db, NOW) == 1 and len(good.got) == 1
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        assert sender.deliver_mail(db, NOW) == 1
        later = NOW + timedelta(seconds=queue.CLAIM_S)
        assert sender.deliver_webhooks(db, later) == 1 and sender.deliver_mail(db, later) == 1
    assert len(good.got) == 2 and sorted(m["Subject"] for m in server.messages) == ["one", "two"]


class SlowRound:
    """A clock that each send moves on by `each_s`, and a second worker (`notify run --once`
    beside the service) that runs its whole round once, in the middle of the first worker's send
    of `at` (from the first worker's sending thread, as a second process would meanwhile)."""

    def __init__(self, at: str, each_s: float = 4.0) -> None:
        self.t, self.at, self.each_s = time.time(), at, each_s
        self.start = self.t
        self.second: list[int] = []

    def clock(self) -> float:
        return self.t

    def sending(self, what: str, second_round) -> None:
        """Called as a send begins: the time moves on; at `at`, the second worker's round."""
        self.t += self.each_s
        if what == self.at and not self.second:
            self.second.append(-1)
            self.second[0] = second_round(NOW + timedelta(seconds=self.t - self.start))


def test_a_round_longer_than_a_claim_sends_no_mail_twice(central_db):
    """80 mails at 4 s each make a round of over 5 minutes, longer than a claim (queue.CLAIM_S):
    claimed with the round's start, a mail taken after 5 minutes was due again at once, and a
    second worker started then sent it too (a review: 90 mails, the last 11 arrived twice). Each
    claim and record is made with the time it is made at."""
    db = central_db
    slow = SlowRound(at="p76")            # 308 s into the round

    def connect(settings, sockets):
        conn = sender.smtp_connection(settings, sockets)
        send = conn.send_message

        def slow_send(msg):
            slow.sending(msg["Subject"], lambda at: sender.deliver_mail(db, at, connect=connect, clock=slow.clock))
            return send(msg)
        conn.send_message = slow_send
        return conn
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        with db.atomic():
            for i in range(80):
                queue.enqueue_mail(db, "anna@example.se", f"p{i:02d}", "t", "<p>t</p>", NOW)
        first = sender.deliver_mail(db, NOW, connect=connect, clock=slow.clock)
    subjects = [m["Subject"] for m in server.messages]
    assert sorted(subjects) == [f"p{i:02d}" for i in range(80)]          # each once
    assert (first, slow.second) == (77, [3])
    done = {d["what"]: d["done_at"] for d in queue.deliveries(db)}
    assert done["p79"] == str((NOW + timedelta(seconds=320)).replace(tzinfo=None))    # when it went


def test_a_round_longer_than_a_claim_posts_no_delivery_twice(central_db):
    db = central_db
    queue.add_endpoint(db, "a", "https://h.example/hook", "json", NOW)
    with db.atomic():
        for _ in range(80):
            queue.enqueue_webhooks(db, NOTICE, NOW)
    ids = [str(d.id) for d in queue.due_webhooks(db, NOW)]
    slow, posted = SlowRound(at=ids[76]), []

    def post(url, body, headers, stop=None):
        slow.sending(headers[signing.DELIVERY_HEADER],
                     lambda at: sender.deliver_webhooks(db, at, http_post=post, clock=slow.clock))
        posted.append(headers[signing.DELIVERY_HEADER])
        return True, "200"
    first = sender.deliver_webhooks(db, NOW, http_post=post, clock=slow.clock)
    assert sorted(posted, key=int) == ids and (first, slow.second) == (77, [3])     # each once


def test_a_receiver_that_does_not_answer_holds_up_only_one_delivery_a_round(central_db, receivers):
    """Three notices for a silent receiver and three for a good one: the silent one costs one try
    (its deadline) a round, its other deliveries wait for the next round with no try counted, and
    the good one's all go (a review: each of a silent receiver's deliveries cost its 10 s in turn,
    up to 17 minutes before anything else went)."""
    db, good = central_db, receivers()
    queue.add_endpoint(db, "silent", f"http://127.0.0.1:{free_tcp_port()}/hook", "json", NOW)
    queue.add_endpoint(db, "good", good.url, "json", NOW)
    with db.atomic():
        for _ in range(3):
            queue.enqueue_webhooks(db, NOTICE, NOW)
    calls: list[str] = []

    def post(url, body, headers, stop=None):
        calls.append(url)
        return sender.post(url, body, headers, stop=stop)
    assert sender.deliver_webhooks(db, NOW, http_post=post) == 3 and len(good.got) == 3
    assert sum(1 for url in calls if url != good.url) == 1
    silent = [d for d in queue.deliveries(db) if d["to"] == "silent"]
    assert sorted(d["attempts"] for d in silent) == [0, 0, 1] and all(d["state"] == "waiting" for d in silent)


def test_a_delivery_that_breaks_in_an_unforeseen_way_fails_alone(central_db, receivers):
    db, good = central_db, receivers()
    queue.add_endpoint(db, "a", good.url, "json", NOW)
    queue.add_endpoint(db, "b", good.url, "json", NOW)
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    calls: list[str] = []

    def post_that_breaks_once(url, body, headers, stop=None):
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError("a bug")
        return sender.post(url, body, headers)
    assert sender.deliver_webhooks(db, NOW, http_post=post_that_breaks_once) == 1
    [d] = queue.deliveries(db, failed_only=True)
    assert d["last_error"] == "RuntimeError: a bug" and d["state"] == "waiting"


@pytest.mark.parametrize("kind", ["missing", "directory", "not-text"])
def test_smtp_set_refuses_a_password_file_it_cannot_read(central_url, central_db, tmp_path, kind, capsys):
    path = tmp_path / "pw"
    if kind == "directory":
        path.mkdir()
    elif kind == "not-text":
        path.write_bytes(b"\xff\xfe\x00")
    assert main(["--db", central_url, "notify", "smtp", "set", "--host", "127.0.0.1", "--from", "a@b.c",
                 "--username", "u", "--password-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kiosk-central: error: cannot read --password-file {path}") and "Traceback" not in err
    assert main(["--db", central_url, "notify", "smtp", "show"]) == 0
    assert "no SMTP server is set" in capsys.readouterr().out


def test_smtp_set_keeps_the_password_file_as_an_absolute_path(central_db, tmp_path, monkeypatch):
    (tmp_path / "pw").write_text("secret\n")
    monkeypatch.chdir(tmp_path)
    smtp.save(central_db, smtp.SmtpSettings("127.0.0.1", 25, "a@b.c", "none", "u", "pw"))
    settings = smtp.load(central_db)
    assert settings.password_file == str(tmp_path / "pw") and settings.password() == "secret"


def test_smtp_set_refuses_a_sender_with_a_line_break(central_url, central_db, capsys):
    assert main(["--db", central_url, "notify", "smtp", "set", "--host", "h", "--from", "a@b.c\nBcc: x@y.z"]) == 2
    assert capsys.readouterr().err.startswith("kiosk-central: error: --from must be an e-mail address")


def test_a_password_file_gone_later_fails_the_mails_not_the_worker(central_url, central_db, tmp_path, receivers, capsys):
    db, good, pw = central_db, receivers(), tmp_path / "pw"
    pw.write_text("secret")
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", "none", "u", str(pw)))
        pw.unlink()
        pw.mkdir()                                     # now a directory: unreadable as a password
        queue.add_endpoint(db, "good", good.url, "json", NOW)
        assert main(["--db", central_url, "notify", "test", "--mail", "q@y.z"]) == 0
        assert main(["--db", central_url, "notify", "run", "--once", "--close-every", "0"]) == 0
        assert "delivered 1 webhook(s) and 0 mail(s)" in capsys.readouterr().out
        assert server.raw == []
    [d] = queue.deliveries(db, failed_only=True)
    assert d["channel"] == "mail" and d["state"] == "waiting" and d["attempts"] == 0      # no try of its own: never given up for it
    assert d["last_error"] == f"cannot read the SMTP password file {pw}: not a regular file"


@pytest.mark.parametrize("key, value, message", [
    ("smtp_port", "abc", "smtp_port is 'abc', not a port 1-65535"),
    ("smtp_port", "70000", "smtp_port is '70000', not a port 1-65535"),
    ("smtp_port", "0", "smtp_port is '0', not a port"), ("smtp_port", " 25", "smtp_port is ' 25', not a port"),
    ("smtp_port", "9" * 5000, "smtp_port is '99999"),
    ("smtp_security", "STARTTLS", "smtp_security is 'STARTTLS', not one of starttls, tls, none")])
def test_a_stored_setting_edited_by_hand_is_a_clear_error_and_fails_the_mails_not_the_worker(
        central_url, central_db, receivers, capsys, key, value, message):
    """`smtp show` and the worker crashed with int()'s traceback on a port; an unknown security
    was sent as 'none', in the clear."""
    db, good = central_db, receivers()
    smtp.save(db, smtp.SmtpSettings("127.0.0.1", free_tcp_port(), "kundpuls@example.se", security="none"))
    with db.atomic():
        set_setting(db, key, value)
    assert central("--db", central_url, "notify", "smtp", "show") == 2
    err = capsys.readouterr().err
    assert said_error(err, f"the stored SMTP setting {message}") and len(err) < 300, err
    queue.add_endpoint(db, "good", good.url, "json", NOW)
    assert main(["--db", central_url, "notify", "test", "--mail", "q@y.z"]) == 0
    assert main(["--db", central_url, "notify", "run", "--once", "--close-every", "0"]) == 0
    assert "delivered 1 webhook(s) and 0 mail(s)" in capsys.readouterr().out
    [d] = queue.deliveries(db, failed_only=True)
    assert d["channel"] == "mail" and d["state"] == "waiting" and d["attempts"] == 0
    assert d["last_error"].startswith(f"the stored SMTP setting {message}")


def test_a_mail_that_cannot_be_built_fails_alone(central_db):
    db = central_db
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", security="none"))
        with db.atomic():
            queue.enqueue_mail(db, "anna@example.se", "one", "t", "<p>t</p>", NOW)
            queue.enqueue_mail(db, "bo@example.se", "two", "t", "<p>t</p>", NOW)
        # as an older version let a line break into the sender
        set_setting(db, "smtp_from", "kundpuls@example.se\nBcc: x@y.z")
        assert sender.deliver_mail(db, NOW) == 0
    assert server.raw == []
    assert {d["state"] for d in queue.deliveries(db, failed_only=True)} == {"waiting"}


def test_an_empty_name_or_address_is_a_mistake_not_everyone_or_no_one(central_url, central_db, capsys):
    from server_sync.web.people import add_user
    from server_sync.workflow.people import set_email
    add_user(central_db, "sara", "analyst", language="en", password="a long enough password 1")
    set_email(central_db, "sara", "sara@example.se")
    assert central("--db", central_url, "digest", "send", "--user", "") == 2    # not everyone's digest
    assert said_error(capsys.readouterr().err, "argument --user: must not be empty")
    assert main(["--db", central_url, "notify", "test", "--mail", ""]) == 2     # not silently no mail
    assert capsys.readouterr().err.startswith("kiosk-central: error: not an e-mail address: ''")
    assert queue.deliveries(central_db) == []
    assert main(["--db", central_url, "notify", "smtp", "set", "--host", " ", "--from", "a@b.c"]) == 2
    assert capsys.readouterr().err.startswith("kiosk-central: error: --host must be a host name")


@pytest.mark.parametrize("host, hint", [("mail.example.com:587", " (the port is --port)"),
                                        ("smtp://mail.example.com", " (without smtp://: --security says how)"),
                                        ("mail.example.com/", ""), ("10.0.0.300", ""), ("mail_.-x", "")])
def test_smtp_host_is_a_host_name_or_address(host, hint, central_url, central_db, capsys):
    """`--host mail.example.com:587` was stored, and mail went to 'mail.example.com:587:587'
    (which never resolves); `smtp://mail.example.com` too. The host is checked as the broker's
    host options are (program.hosts), and nothing is stored."""
    assert main(["--db", central_url, "notify", "smtp", "set", "--host", host, "--from", "a@b.c"]) == 2
    assert capsys.readouterr().err == (f"kiosk-central: error: --host must be a host name or IP address, "
                                       f"got {host!r}{hint}\n")
    assert smtp.load(central_db) is None
    for good in ("mail.example.com", "mail.example.com.", "2001:db8::25", "192.0.2.25"):
        assert main(["--db", central_url, "notify", "smtp", "set", "--host", good, "--from", "a@b.c"]) == 0, good
        assert smtp.load(central_db).host == good


@pytest.mark.parametrize("option, value", [("--interval", "-1"), ("--interval", "0"), ("--interval", "nan"),
                                           ("--interval", "1e308"), ("--close-every", "-5"),
                                           ("--close-every", "nan"), ("--watch-every", "-1"),
                                           ("--watch-every", "1e9")])
def test_the_worker_refuses_a_span_that_would_spin_or_overflow(central_url, option, value, capsys):
    assert main(["--db", central_url, "notify", "run", "--once", option, value]) == 2
    assert capsys.readouterr().err.startswith(f"kiosk-central: error: {option} must be ")


def test_a_long_interval_keeps_the_watchdog_fed_and_stops_at_once(tmp_path):
    """--interval may be up to an hour, but the worker pinged systemd once a round: with
    WatchdogSec=60 (kundpuls-notify.service) a rest over a minute had it killed and restarted.
    Here the watchdog is 0.4 s (pings due every 0.2 s) and the interval an hour."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    env = dict(os.environ, PYTHONPATH=str(ROOT), NOTIFY_SOCKET=str(path), WATCHDOG_USEC="400000")
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "server_sync", "--db", f"sqlite:///{tmp_path / 'c.db'}",
                             "notify", "run", "--interval", "3600", "--close-every", "0"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def heard(seconds: float) -> list[str]:
        got, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                got.append(sock.recv(4096).decode())
            except socket.timeout:
                pass
        return got
    try:
        end = time.monotonic() + 30
        while not any(m.startswith("READY=1") for m in heard(0.5)):
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < end, "no READY=1"
        assert heard(1.5).count("WATCHDOG=1") >= 4          # about 7; before, none in the hour's rest
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0                            # the rest ends at once, not in an hour
        assert "STOPPING=1" in heard(0.5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        sock.close()


def test_one_person_whose_digest_cannot_be_queued_does_not_stop_the_others(central_url, central_db, capsys):
    from server_sync.web.people import add_user
    from server_sync.workflow.people import set_email
    from tests.analysis.seeding import add_site
    db = central_db
    add_site(db, "s1")
    for name in ("anna", "bo", "cai"):
        add_user(db, name, "analyst", language="en", password="a long enough password 1")
        set_email(db, name, f"{name}@example.se")
    # as an older version let a line break into an address
    db.execute_sql(f"UPDATE web_user SET email = {db.param} WHERE name = {db.param}", ("bo@example.se\nBcc: x@y.z", "bo"))
    assert main(["--db", central_url, "digest", "send"]) == 1
    out, err = capsys.readouterr()
    assert "2 digest(s) queued" in out and "Traceback" not in err
    assert err.startswith("kiosk-central: error: no digest for bo: not an e-mail address")
    assert sorted(d["to"] for d in queue.deliveries(db)) == ["anna@example.se", "cai@example.se"]
    db.execute_sql(f"UPDATE web_user SET email = {db.param} WHERE name = {db.param}", ("bo@example.se", "bo"))
    assert main(["--db", central_url, "digest", "send"]) == 0          # the next run: bo's only
    assert "1 digest(s) queued" in capsys.readouterr().out


def test_a_password_smtp_login_cannot_send_is_refused_and_fails_the_mails_not_the_worker(central_url, central_db,
                                                                                         tmp_path, monkeypatch, capsys):
    pw = tmp_path / "pw"
    pw.write_text("lösenord")                          # smtplib logs in with ASCII only
    assert main(["--db", central_url, "notify", "smtp", "set", "--host", "127.0.0.1", "--from", "a@b.c",
                 "--username", "u", "--password-file", str(pw)]) == 2
    assert "must be ASCII" in capsys.readouterr().err
    pw.write_text("\n")                                # accepted, it failed only at the first mail
    assert main(["--db", central_url, "notify", "smtp", "set", "--host", "127.0.0.1", "--from", "a@b.c",
                 "--username", "u", "--password-file", str(pw)]) == 2
    assert capsys.readouterr().err == f"kiosk-central: error: --password-file {pw} is empty\n"
    assert main(["--db", central_url, "notify", "smtp", "set", "--host", "127.0.0.1", "--from", "a@b.c",
                 "--username", "ü"]) == 2
    assert "--username must be ASCII" in capsys.readouterr().err
    db = central_db
    monkeypatch.setenv(smtp.ENV_PASSWORD, "lösenord")
    with LocalSmtp() as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se", "none", "u"))
        with db.atomic():
            queue.enqueue_mail(db, "anna@example.se", "s", "t", "<p>t</p>", NOW)
        assert sender.deliver_mail(db, NOW) == 0
    [d] = queue.deliveries(db, failed_only=True)
    assert d["state"] == "waiting" and d["last_error"].startswith("the SMTP password in $KUNDPULS_SMTP_PASSWORD must be ASCII")


@pytest.mark.parametrize("refusal", ["login", "starttls"])
def test_a_refused_login_or_a_missing_starttls_is_said_as_such(central_db, monkeypatch, refusal):
    """smtplib's errors are OSErrors: a refused login read "cannot reach 127.0.0.1:PORT: (535,
    b'5.7.8 …')" (a review), as if the server were down. Said as what it is; still no try of a
    mail's own."""
    db = central_db
    monkeypatch.setenv(smtp.ENV_PASSWORD, "wrong")
    with LocalSmtp(refuse_login=True) as server:
        smtp.save(db, smtp.SmtpSettings("127.0.0.1", server.port, "kundpuls@example.se",
                                        "none" if refusal == "login" else "starttls", "kundpuls"))
        with db.atomic():
            queue.enqueue_mail(db, "anna@example.se", "s", "t", "<p>t</p>", NOW)
        assert sender.deliver_mail(db, NOW) == 0
    [d] = queue.deliveries(db, failed_only=True)
    assert d["state"] == "waiting" and d["attempts"] == 0
    assert d["last_error"] == {
        "login": f"the server 127.0.0.1:{server.port} refused the login: 535 5.7.8 Authentication credentials invalid",
        "starttls": f"the server 127.0.0.1:{server.port} does not offer STARTTLS, which --security starttls needs"}[refusal]


def test_anything_that_breaks_connecting_fails_the_mails_not_the_worker(central_db):
    db = central_db
    smtp.save(db, smtp.SmtpSettings("127.0.0.1", 25, "kundpuls@example.se", security="none"))
    with db.atomic():
        queue.enqueue_mail(db, "anna@example.se", "s", "t", "<p>t</p>", NOW)

    def connect(settings, sockets):
        raise UnicodeEncodeError("ascii", "ü", 0, 1, "ordinal not in range(128)")
    assert sender.deliver_mail(db, NOW, connect=connect) == 0
    [d] = queue.deliveries(db, failed_only=True)
    assert d["state"] == "waiting" and d["last_error"].startswith("cannot connect to 127.0.0.1:25: UnicodeEncodeError")


def test_the_worker_delivers_even_when_closing_completed_actions_fails(central_url, central_db, receivers, monkeypatch,
                                                                        capsys):
    from server_sync.workflow import actions

    def broken(db, now):
        raise ValueError("a row it cannot handle")
    monkeypatch.setattr(actions, "close_completed", broken)
    r = receivers()
    assert main(["--db", central_url, "notify", "webhook", "add", "office", "--url", r.url]) == 0
    assert main(["--db", central_url, "notify", "test"]) == 0
    assert main(["--db", central_url, "notify", "run", "--once"]) == 0
    assert "delivered 1 webhook(s)" in capsys.readouterr().out and len(r.got) == 1


def test_digests_go_even_when_closing_completed_actions_fails(central_url, central_db, monkeypatch, capsys):
    from server_sync.web.people import add_user
    from server_sync.workflow import actions
    from server_sync.workflow.people import set_email
    from tests.analysis.seeding import add_site

    def broken(db, now):
        raise ValueError("a row it cannot handle")
    monkeypatch.setattr(actions, "close_completed", broken)
    add_site(central_db, "s1")
    add_user(central_db, "anna", "analyst", language="en", password="a long enough password 1")
    set_email(central_db, "anna", "anna@example.se")
    assert main(["--db", central_url, "digest", "send"]) == 1
    out, err = capsys.readouterr()
    assert "1 digest(s) queued" in out
    assert err == "kiosk-central: error: completed actions not closed: ValueError: a row it cannot handle\n"


def test_digest_send_for_one_person_says_why_nothing_went(central_url, central_db, capsys):
    """`digest send --user bob` for someone without an address printed nothing, and a second send
    'queued 0' without saying this week's had gone already."""
    from server_sync.web.people import add_user
    from server_sync.workflow.people import set_email
    from tests.analysis.seeding import add_site
    db = central_db
    add_site(db, "s1")
    for name in ("bob", "sm"):
        add_user(db, name, "analyst", language="en", password="a long enough password 1")
    set_email(db, "sm", "sm@example.se")
    for dry in ([], ["--dry-run"]):
        assert main(["--db", central_url, "digest", "send", "--user", "bob", *dry]) == 2
        out, err = capsys.readouterr()
        assert out == "" and "kiosk-central: error: bob has no e-mail address" in err, err
        assert "kiosk-central user email bob ADDRESS" in err
    assert main(["--db", central_url, "digest", "send", "--user", "sm"]) == 0
    assert "1 digest(s) queued" in capsys.readouterr().out
    assert main(["--db", central_url, "digest", "send", "--user", "sm"]) == 0
    out = capsys.readouterr().out
    assert "0 digest(s) queued" in out and "went already to sm; --force queues it again" in out, out
    assert main(["--db", central_url, "digest", "send", "--user", "sm", "--force"]) == 0
    out = capsys.readouterr().out
    assert "1 digest(s) queued" in out and "went already" not in out


@pytest.mark.parametrize("dry", [[], ["--dry-run"]])
def test_digest_send_when_nobody_has_an_address_says_so(central_url, central_db, dry, capsys):
    """A dry run printed nothing and a real one "0 digest(s) queued": both looked like a fault."""
    assert main(["--db", central_url, "digest", "send", *dry]) == 0
    assert ("nobody gets a digest: no enabled user has an e-mail address (kiosk-central user email NAME ADDRESS)"
            in capsys.readouterr().out)


SECRET_URL = "https://u:Pa55word@h.example/x?token=s3cr3tt0ken&v=2"


def test_redacted_hides_the_user_password_the_path_and_every_query_value():
    from server_sync.notify.http_post import redacted
    assert redacted(SECRET_URL) == "https://***@h.example/x?token=***&v=***"
    assert redacted("https://h.example/services/T1/B2?a=&flag#frag") == "https://h.example/services/***?a=&***#frag"
    # Slack's and Discord's incoming webhooks: the path is the secret; its last four characters tell two apart.
    assert (redacted("https://hooks.slack.com/services/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")
            == "https://hooks.slack.com/services/***a1S2")
    assert redacted("https://discord.com/api/webhooks/112233/aBcDeFgHiJkL") == "https://discord.com/api/***iJkL"
    assert redacted("https://h.example/hook/") == "https://h.example/hook/"
    assert redacted("https://u:p@ss@h.example:8443/x") == "https://***@h.example:8443/x"    # to the last '@'
    assert redacted("ftp://u:p@h/x?k=v") == "ftp://***@h/x?k=***"     # ones check_url refuses, stored long ago
    assert redacted("//u:p@h/x?k=v") == "//***@h/x?k=***"
    assert redacted("https://h.example/x") == "https://h.example/x"


def test_webhook_addresses_are_printed_redacted(central_url, central_db, capsys):
    assert main(["--db", central_url, "notify", "webhook", "add", "office", "--url", SECRET_URL]) == 0
    assert main(["--db", central_url, "notify", "webhook", "list"]) == 0
    assert main(["--db", central_url, "notify", "webhook", "list", "--json"]) == 0
    out = capsys.readouterr().out
    assert "Pa55word" not in out and "s3cr3tt0ken" not in out
    assert out.count("https://***@h.example/x?token=***&v=***") == 3
    assert central("--db", central_url, "notify", "webhook", "update", "office", "--url", SECRET_URL + "&x=1") == 0
    out = capsys.readouterr().out
    assert "Pa55word" not in out and "https://***@h.example/x?token=***&v=***&x=***" in out


def test_the_worker_never_shows_a_webhooks_password_or_token(central_url, central_db, receivers, caplog, capsys):
    """A user and password in the address go as HTTP Basic authentication (urllib took
    "password@host" for the port, and said so in the error); an error quoting the address, in
    `deliveries`, on the admin page and in the log, has it redacted."""
    import base64
    db, r = central_db, receivers()
    queue.add_endpoint(db, "basic", r.url.replace("http://", "http://u%40x:Pa55word@") + "?token=s3cr3tt0ken",
                       "json", NOW)
    queue.add_endpoint(db, "old", "https://h.example/x", "json", NOW)
    db.execute_sql(f"UPDATE webhook_endpoint SET url = {db.param} WHERE name = {db.param}",   # as an older version let in
                   ("//u:Pa55word@h.example/x?token=s3cr3tt0ken", "old"))
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    assert main(["--db", central_url, "notify", "run", "--once", "--close-every", "0"]) == 0
    said = capsys.readouterr()
    [(headers, _body)] = r.got
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"u@x:Pa55word").decode()
    assert main(["--db", central_url, "notify", "deliveries", "--json"]) == 0
    out = capsys.readouterr().out
    [old] = [d for d in json.loads(out) if d["to"] == "old"]
    assert old["last_error"] == "ValueError: unknown url type: '//h.example/x?token=***'"
    # What the product says (its loggers at every level; peewee's DEBUG echo of SQL parameters is
    # the driver's, on only where someone turns it on, and an earlier test in the worker may have).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kundpuls"))
    for text in (out, said.out, said.err, logged):
        assert "Pa55word" not in text and "s3cr3tt0ken" not in text


SLACK = "https://hooks.slack.com/services/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"
SECRET_PARTS = ("T00AB12CD/B00EF34GH", "q1W2e3R4t5Y6", "s3cr3tt0ken", "Pa55word", "Pa55")


@pytest.mark.parametrize("url", [SLACK + " ", SLACK.replace("/services", ":abc/services"),
                                 SLACK.replace("https:", "ftp:"), SLACK.replace("/services", ":0/services"),
                                 SLACK.replace("hooks.", "hooks.."), "https://u:Pa55word@[::1/x?token=s3cr3tt0ken",
                                 "https://h.example/x?token=s3cr3tt0ken\n",
                                 # a password with '/' in it, not percent-encoded: urlsplit ends the
                                 # host at the '/', and the password was shown as the host's "port"
                                 "https://u:Pa55/word@h.example/x", "https://u:Pa55word/x#y@h.example/x"])
def test_an_address_refused_is_shown_redacted(central_url, central_db, url, capsys):
    """`webhook add` with a pasted Slack address and a space after it printed the address, token
    and all, in its error (a review)."""
    assert main(["--db", central_url, "notify", "webhook", "add", "office", "--url", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kiosk-central: error: --url ") and not [p for p in SECRET_PARTS if p in err], err
    assert "/services/***" in err or "token=***" in err or "***@" in err
    assert "percent-encoded" in err or "Pa55/" not in url


def test_an_error_quoting_a_stored_addresss_path_shows_it_redacted(central_url, central_db, caplog, capsys):
    """An address stored before `check_url` with a space or a tab in its path: http.client's
    error quotes the path it refused, which `hide_address` did not know (it replaced the whole
    address), and the Slack token reached the log, `notify deliveries` and the admin page."""
    from server_sync.notify.http_post import hide_address
    db = central_db
    for name, url in (("space", SLACK.replace("t5Y6", "t5Y6 ")), ("tab", SLACK.replace("t5Y6", "t5Y6\t") + "?token=s3cr3tt0ken")):
        queue.add_endpoint(db, name, "https://h.example/x", "json", NOW)
        db.execute_sql(f"UPDATE webhook_endpoint SET url = {db.param} WHERE name = {db.param}", (url, name))
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    assert main(["--db", central_url, "notify", "run", "--once", "--close-every", "0"]) == 0
    said = capsys.readouterr()
    assert main(["--db", central_url, "notify", "deliveries", "--failed", "--json"]) == 0
    out = capsys.readouterr().out
    errors = {d["to"]: d["last_error"] for d in json.loads(out)}
    assert errors == {"space": "InvalidURL: URL can't contain control characters. '/services/***a1S2' (found at least ' ')",
                      "tab": "InvalidURL: URL can't contain control characters. '/services/***a1S2?token=***'"
                             " (found at least '\\t')"}
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("kundpuls"))
    for text in (out, said.out, said.err, logged):
        assert not [p for p in SECRET_PARTS if p in text], text
    # a traceback, and the address's parts as repr() writes them, alone
    url, path = "https://u:Pa55word@h.example/a/T00AB12CD/B00EF34GH\n?token=s3cr3tt0ken", "T00AB12CD/B00EF34GH\n"
    text = hide_address(f"Traceback: {url!r} {path!r} {'Pa55word'!r} ['s3cr3tt0ken'] v=2", url)
    assert not [p for p in SECRET_PARTS if p in text] and text.endswith(" v=2"), text


def test_a_removed_webhooks_name_can_be_used_again_and_its_history_stays(central_url, central_db, receivers, capsys):
    db, first, second = central_db, receivers(), receivers()
    hook = ["--db", central_url, "notify", "webhook"]
    assert main([*hook, "add", "office", "--url", first.url]) == 0
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    assert sender.deliver_webhooks(db, NOW) == 1
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)               # waits for the endpoint about to go
    assert main([*hook, "remove", "office"]) == 0
    assert main([*hook, "add", "office", "--url", second.url, "--format", "slack"]) == 0     # "exists already"
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert central(*hook, "add", "office", "--url", second.url) == 2
    assert said_error(capsys.readouterr().err, "a webhook named 'office' exists already")
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    assert sender.deliver_webhooks(db, NOW) == 1
    assert len(first.got) == 1                                 # what waited for the removed one never
    [(headers, body)] = second.got                             # goes to the new address
    assert signing.verify(secret, headers, body, now=time.time()) and "blocks" in json.loads(body)
    history = sorted((d["id"], d["state"], d["last_error"]) for d in queue.deliveries(db))
    assert [(s, e) for _i, s, e in history] == [("delivered", None), ("failed", "the endpoint was removed"),
                                                ("delivered", None)]
    assert main([*hook, "list", "--json"]) == 0
    assert [(e["name"], e["format"], e["active"]) for e in json.loads(capsys.readouterr().out)] == [
        ("office", "json", False), ("office", "slack", True)]


def test_webhook_update_gives_an_endpoint_a_new_address_and_what_waits_goes_there(central_url, central_db,
                                                                                   receivers, capsys):
    db, before, after = central_db, receivers(), receivers()
    hook = ["--db", central_url, "notify", "webhook"]
    assert main([*hook, "add", "office", "--url", before.url]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    with db.atomic():
        queue.enqueue_webhooks(db, NOTICE, NOW)
    assert main([*hook, "update", "office", "--url", after.url]) == 0
    assert sender.deliver_webhooks(db, NOW) == 1 and before.got == []
    [(headers, body)] = after.got
    assert signing.verify(secret, headers, body, now=time.time())       # the secret stays
    assert central(*hook, "update", "office", "--url", "ftp://x") == 2
    assert said_error(capsys.readouterr().err, "--url must be an http(s) address")
    assert central(*hook, "update", "nobody", "--url", after.url) == 2
    assert said_error(capsys.readouterr().err, "no webhook named 'nobody'")
    assert main([*hook, "remove", "office"]) == 0
    assert central(*hook, "update", "office", "--url", after.url) == 2
    assert said_error(capsys.readouterr().err, "the webhook 'office' was removed")


def test_the_migration_frees_removed_names_and_keeps_every_endpoint(central_url):
    """m0048 on a store that has endpoints and deliveries: the rows, their ids and the id
    sequence stay; a removed name can be added again, an active one cannot."""
    from server_sync.central.db import connect
    from server_sync.central.migrations import SchemaMigration, migrations
    from server_sync.program.migrations import migrate
    db = connect(central_url, migrate_schema=False)
    try:
        migrate(SchemaMigration(db), [m for m in migrations(db) if m.number < 48])
        for name, active in (("office", False), ("bi", True), ("gone", True)):
            queue.add_endpoint(db, name, "https://h.example/x", "json", NOW)
            db.execute_sql(f"UPDATE webhook_endpoint SET active = {db.param} WHERE name = {db.param}", (active, name))
        with db.atomic():
            queue.enqueue_webhooks(db, NOTICE, NOW)
        db.execute_sql("DELETE FROM webhook_endpoint WHERE name = 'gone'")    # its id is never given again
        before = [(e.id, e.name, e.active) for e in queue.endpoints(db, active_only=False)]
        migrate(SchemaMigration(db), migrations(db))
        assert [(e.id, e.name, e.active) for e in queue.endpoints(db, active_only=False)] == before
        assert queue.add_endpoint(db, "office", "https://h.example/y", "json", NOW).id == 4
        with pytest.raises(CentralConfigError, match="exists already"):
            queue.add_endpoint(db, "bi", "https://h.example/y", "json", NOW)
        assert [d["to"] for d in queue.deliveries(db)] == ["bi"]
    finally:
        db.close()



def test_a_test_with_nowhere_to_go_is_refused(central_url, central_db, receivers, capsys):
    """`notify test` with no webhook and no --mail said 'queued for 0 webhook(s); …' and exited
    0, as if something would come. A removed webhook is none."""
    said = ("nothing to send: no webhook is set (kiosk-central notify webhook add NAME --url URL) "
            "and no --mail given")
    assert main(["--db", central_url, "notify", "test"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and said_error(err, said), err
    r = receivers()
    assert main(["--db", central_url, "notify", "webhook", "add", "office", "--url", r.url]) == 0
    assert main(["--db", central_url, "notify", "webhook", "remove", "office"]) == 0
    capsys.readouterr()
    assert main(["--db", central_url, "notify", "test"]) == 2 and said_error(capsys.readouterr().err, said)
    assert queue.deliveries(central_db) == []
    assert main(["--db", central_url, "notify", "test", "--mail", "q@y.z"]) == 0
    assert capsys.readouterr().out.startswith("queued for 0 webhook(s) and q@y.z;")

NOT_ADDRESSES = ("@", "a b@c d", "anna@example", "anna@example.se\nBcc: x@y.z", "<anna@example.se>",
                 "anna@example.se, bo@example.se", "anna@exam\x00ple.se")


@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_one_rule_says_what_an_address_is(central_url, central_db, address, capsys):
    """`notify test --mail` queued '@' and 'a b@c d' that `user email` refused."""
    from server_sync.web.people import add_user
    add_user(central_db, "sara", "analyst", language="en", password="a long enough password 1")
    assert central("--db", central_url, "notify", "test", "--mail", address) == 2
    assert said_error(capsys.readouterr().err, "not an e-mail address")
    assert central("--db", central_url, "user", "email", "sara", address) == 2
    assert said_error(capsys.readouterr().err, "not an e-mail address")
    assert central("--db", central_url, "notify", "smtp", "set", "--host", "h", "--from", address) == 2
    assert said_error(capsys.readouterr().err, "--from must be an e-mail address")
    assert queue.deliveries(central_db) == []


def test_an_address_every_command_takes(central_url, central_db, capsys):
    from server_sync.web.people import add_user
    add_user(central_db, "sara", "analyst", language="en", password="a long enough password 1")
    for command in (("notify", "test", "--mail"), ("user", "email", "sara"), ("notify", "smtp", "set", "--host", "h", "--from")):
        assert central("--db", central_url, *command, "sara.lind+kundpuls@exempel.se") == 0


def test_the_worker_waits_out_a_store_that_fails_and_then_delivers(tmp_path, receivers, monkeypatch, caplog):
    """The store held by another process past busy_timeout (a long purge, a backup): the worker
    logged a side job's traceback and exited, for systemd to restart it into the same wait. Now
    the round is tried again after a growing wait, and what was queued goes once the store is
    back (a side job's store failure is the round's, not its own: no traceback)."""
    import logging
    import sqlite3
    import threading

    from server_sync.central.db import SQLITE_PRAGMAS
    from server_sync.central.db import connect
    url = f"sqlite:///{tmp_path / 'c.db'}"
    connect(url).close()
    r = receivers()
    assert main(["--db", url, "notify", "webhook", "add", "office", "--url", r.url]) == 0
    assert main(["--db", url, "notify", "test"]) == 0
    monkeypatch.setitem(SQLITE_PRAGMAS, "busy_timeout", 100)           # the wait, not the real 10 s
    handlers = {}
    monkeypatch.setattr(signal, "signal", lambda sig, handler: handlers.setdefault(sig, handler))
    holder = sqlite3.connect(tmp_path / "c.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    failed_rounds = []

    def release_then_stop():
        deadline = time.monotonic() + 60
        while not [m for m in caplog.messages if "database is locked" in m] and time.monotonic() < deadline:
            time.sleep(0.05)
        failed_rounds.append(len(r.got))         # nothing went while the store was held
        holder.execute("COMMIT")
        while not r.got and time.monotonic() < deadline:
            time.sleep(0.05)
        handlers[signal.SIGTERM](signal.SIGTERM, None)
    helper = threading.Thread(target=release_then_stop, daemon=True)
    caplog.set_level(logging.INFO, logger="kundpuls.notify")
    helper.start()
    assert main(["--db", url, "notify", "run", "--interval", "0.1", "--watch-every", "0.2"]) == 0
    helper.join(10)
    holder.close()
    assert failed_rounds == [0] and len(r.got) == 1
    locked = [rec for rec in caplog.records if "database is locked" in rec.getMessage()]
    assert locked and all(rec.exc_info is None for rec in caplog.records), caplog.text
    assert "trying again in 1 s" in locked[0].getMessage()
