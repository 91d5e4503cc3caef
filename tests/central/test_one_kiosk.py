"""One kiosk must not hurt the others (issue 11), through a real mosquitto (TLS, passwords, ACL),
the real `kiosk-central ingest` and real kiosks (Recorder, sync agent): a kiosk that speaks first
does not define a question for the chain; a follow-up belongs to an answer of its own kiosk, one
per answer; answers the centre will never take as they are (another site, a question defined
otherwise) are named back, held and shown on their kiosk instead of re-sent forever, and go in
with `kiosk refused retry` once the registration or the definition is fixed."""

from __future__ import annotations

import json
import threading

import pytest

from kiosk import doctor
from server_sync import protocol
from server_sync.central import dead_letters
from server_sync.cli import main as central_cli
from tests.central.fleet import make_kiosk, wait_until
from tests.central.test_ingest_mqtt import client_for, connect_result
from tests.central.wire import batch, count, followup, response
from tests.sync.conftest import FAST_SYNC, kiosk_toml

pytestmark = pytest.mark.broker

PULSE_AS_NPS = {"id": "pulse", "version": 1, "scale": "nps11", "audience": "customer",
                "text": {"sv": "Puls?", "nb": "Puls?", "en": "Pulse?"}}
PULSE_PUSH = """
[[questions]]
id = "pulse"
version = 1
scale = "smiley4"
audience = "employee"
text = { sv = "Hur har din arbetsdag varit?", nb = "Hvordan har arbeidsdagen din vært?", en = "How was your working day?" }
"""


class Raw:
    """A kiosk credential speaking MQTT by hand, as a hostile or broken client would."""

    def __init__(self, broker, kiosk: str) -> None:
        self.kiosk = kiosk
        self.acks: list[protocol.Ack] = []
        self.got = threading.Condition()
        self.c = client_for(broker, kiosk, client_id=f"{kiosk}-raw")
        self.c.on_message = self._on_message
        assert connect_result(self.c, broker) == "Success"
        self.c.subscribe(protocol.ack_topic(kiosk), qos=1)

    def _on_message(self, c, u, m) -> None:
        with self.got:
            self.acks.append(protocol.decode_ack(m.payload))
            self.got.notify_all()

    def send(self, events: list[dict], batch_id: str) -> protocol.Ack:
        self.c.publish(*batch(events, kiosk=self.kiosk, batch_id=batch_id), qos=1).wait_for_publish(5)
        with self.got:
            assert self.got.wait_for(lambda: any(a.batch_id == batch_id for a in self.acks), 15), "no ack"
            return next(a for a in self.acks if a.batch_id == batch_id)

    def close(self) -> None:
        self.c.loop_stop()


def fleet(url: str, capsys) -> dict:
    central_cli(["--db", url, "fleet", "--json"])
    return {k["kiosk_id"]: k for k in json.loads(capsys.readouterr().out)["kiosks"]}


def test_the_first_kiosk_to_answer_does_not_define_a_question(broker, central, ingestors, tmp_path, capsys):
    url, db = central
    ingestors(url, broker)
    # One publish of `pulse v1` as nps11/customer, before anyone else answered it.
    k1 = Raw(broker, "k1")
    ack = k1.send([response(1, kiosk="k1", question="pulse", scale="nps11", value=9)], "first")
    assert ack.ranges == ((1, 1),)
    # Another kiosk's 300 smiley4/employee answers to pulse go in, every one.
    k2 = make_kiosk(tmp_path, broker, "k2", "s1", batch_max_events=50)
    k2.record(300, question="pulse")
    agent = k2.agent()
    assert agent.run(once=True, timeout=30) and agent.counters.events_rejected == 0
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k2' AND scale = 'smiley4'") == 300
    # The centre defines pulse (its config push): from now on a kiosk that says otherwise is held,
    # alone; the others go on.
    (tmp_path / "pulse.toml").write_text(PULSE_PUSH, encoding="utf-8")
    assert central_cli(["--db", url, "config", "push", "--kiosk", "k2", str(tmp_path / "pulse.toml"),
                    "--broker-host", broker.host, "--broker-port", str(broker.port), "--ca-file", broker.ca_file,
                    "--password-file", str(broker.password_file_for("central"))]) == 0
    assert "questions defined by the centre: pulse v1" in capsys.readouterr().out
    wrong = make_kiosk(tmp_path, broker, "k3", "s2", questions=[PULSE_AS_NPS])
    wrong.record(2)
    agent = wrong.agent()
    assert agent.run(once=True, timeout=20) and agent.counters.events_rejected == 2
    assert wrong.store.rejected_count() == 2 and wrong.store.outbox_depth() == 0
    reason, = wrong.store.refused_by_reason()
    assert "question pulse v1 is defined by the centre as smiley4/employee" in reason
    k2.record(5, question="pulse")
    assert k2.agent().run(once=True, timeout=20)
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k2'") == 305
    # Held and flagged: on the kiosk (doctor) and at the centre (its status, in fleet).
    check, = [c for c in doctor.check_database(wrong.cfg, wrong.clock.now()) if c.name == "outbox"]
    assert check.status == doctor.WARN and "2 records refused by the centre for good" in check.detail
    assert wait_until(lambda: fleet(url, capsys)["k3"]["rejected"] == 2, 10)
    seen = fleet(url, capsys)
    assert seen["k3"]["flagged"] and "holds 2 answers the centre refused" in seen["k3"]["flag"]
    assert not seen["k2"]["flagged"]
    # The definition was the mistake: fixed at the centre, the held answers go in on retry.
    assert central_cli(["--db", url, "question", "define", "pulse", "1", "--scale", "nps11", "--audience", "customer"]) == 2
    assert "keeps its meaning" in capsys.readouterr().err
    assert central_cli(["--db", url, "question", "define", "pulse", "1", "--scale", "nps11", "--audience", "customer",
                    "--replace"]) == 0
    assert "305 answer(s) stored before say otherwise" in capsys.readouterr().out
    assert wrong.store.retry_refused() == 2
    assert wrong.agent().run(once=True, timeout=20) and wrong.store.rejected_count() == 0
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k3'") == 2
    k1.close()


def test_a_followup_belongs_to_an_answer_of_its_own_kiosk_once(broker, central, ingestors, tmp_path):
    url, db = central
    ingestors(url, broker)
    k1 = Raw(broker, "k1")
    answer = response(1, kiosk="k1", value=1)
    own = followup(2, answer["id"], kiosk="k1", reasons=("queue",))
    assert k1.send([answer, own], "a").ranges == ((1, 2),)
    reasons = "SELECT COALESCE(SUM(n), 0) FROM rollup_reason_daily"
    assert count(db, reasons) == 1
    # k2 (same site) attaches a follow-up to k1's answer: named back as refused, nothing counted.
    k2 = Raw(broker, "k2")
    ack = k2.send([followup(1, answer["id"], kiosk="k2", reasons=("staff",)), response(2, kiosk="k2")], "b")
    assert ack.ranges == () and [r.ranges for r in ack.rejected] == [((1, 1),)]
    assert "another kiosk's" in ack.rejected[0].reason
    assert k2.send([response(2, kiosk="k2")], "b2").ranges == ((2, 2),)    # the rest goes in without it
    # k1 itself sends a second follow-up to the same answer: a conflict, acked, counted once.
    second = followup(3, answer["id"], kiosk="k1", reasons=("price",))
    assert k1.send([second], "c").ranges == ((3, 3),)
    assert k1.send([second], "c-again").ranges == ((3, 3),)
    assert count(db, reasons) == 1
    assert count(db, "SELECT COUNT(*) FROM followup") == 1
    assert count(db, f"SELECT COUNT(*) FROM conflict WHERE event_id = {db.param}", (second["id"],)) == 1
    k1.close()
    k2.close()


def test_a_site_mismatch_is_held_and_shown_not_resent_forever(broker, central, ingestors, tmp_path, capsys):
    from kiosk.cli import main as kiosk_cli
    url, db = central
    ingestors(url, broker)
    k3 = make_kiosk(tmp_path, broker, "k3", "s1")          # registered at s2, its config says s1
    k3.record(4)
    k3.store.close()
    args = ["--data-dir", str(k3.cfg.data_dir)]
    cfg_file = tmp_path / "k3.toml"
    cfg_file.write_text(kiosk_toml("k3", "s1", k3.cfg.data_dir, broker.kiosk_broker_mapping("k3"), FAST_SYNC))
    assert kiosk_cli(["--config", str(cfg_file), *args, "sync", "--once", "--timeout", "20"]) == 1
    err = capsys.readouterr().err
    assert "4 event(s) refused by the centre for good, kept here" in err and "not the registered site 's2'" in err
    # Sent once, refused once: another run sends nothing and adds no dead letter.
    assert kiosk_cli(["--config", str(cfg_file), *args, "sync", "--once", "--timeout", "20"]) == 1
    capsys.readouterr()
    assert dead_letters.counts(db)["k3"]["messages"] == 1
    assert kiosk_cli(["--config", str(cfg_file), *args, "doctor", "--json"]) in (0, 1)
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert "4 records refused by the centre for good" in checks["outbox"]["detail"]
    # The kiosk really stands at s1: moved in the register, the held answers go in.
    assert central_cli(["--db", url, "kiosk", "move", "k3", "--site", "s1", "--acl-file", str(broker.acl_file)]) == 0
    assert kiosk_cli(["--config", str(cfg_file), *args, "refused", "retry"]) == 0
    assert kiosk_cli(["--config", str(cfg_file), *args, "sync", "--once", "--timeout", "20"]) == 0
    assert count(db, "SELECT COUNT(*) FROM response WHERE kiosk_id = 'k3' AND site_id = 's1'") == 4
