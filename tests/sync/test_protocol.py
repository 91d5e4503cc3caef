"""The MQTT contract as pure functions: topics, batches, acks, status, config push, alerts.
No sockets here; the decoder is fuzzed with hypothesis."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk import config as kconfig
from kiosk.pushed import validate_push
from kiosk.store import FollowUp, Response
from server_sync import protocol as P
from server_sync.exc import ProtocolError
from server_sync.protocol.timetext import UNSYNCED_RANGE

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
KIOSK = "demo-kiosk-1"
TOPIC = P.events_topic(KIOSK)


def response_event(n=1, **over):
    e = {"type": "response", "id": f"00000000-0000-4000-8000-{n:012d}", "seq": n,
         "kiosk_id": KIOSK, "site_id": "sthlm-sodermalm", "question_id": "visit",
         "question_version": 1, "scale": "smiley4", "value": 3, "audience": "customer",
         "language": "sv", "recorded_at": "2026-11-23T11:00:00.123Z", "clock_synced": True,
         "boot_id": "11111111-1111-4111-8111-111111111111", "monotonic_ns": 5_000_000, "filtered": None}
    e.update(over)
    return e


def followup_event(n=2, **over):
    e = {"type": "followup", "id": f"00000000-0000-4000-9000-{n:012d}", "seq": n,
         "kiosk_id": KIOSK, "response_id": "00000000-0000-4000-8000-000000000001",
         "reasons": ["queue", "staff"], "comment": "slow", "recorded_at": "2026-11-23T11:00:05.000Z",
         "clock_synced": True, "boot_id": "11111111-1111-4111-8111-111111111111",
         "monotonic_ns": 6_000_000}
    e.update(over)
    return e


def with_defaults(event: dict) -> dict:
    """An event dict as the decoder gives it back: optional fields left out are their default."""
    optional = {spec.name: None for spec in P.fields_of(P.EVENT_TYPES[event["type"]]) if spec.optional}
    return {**optional, **event}


def decode(obj, **kw):
    payload = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return P.decode_batch(kw.pop("topic", TOPIC), payload, now=NOW, **kw)


def batch(events, **over):
    b = {"schema": 1, "kiosk_id": KIOSK, "batch": "b-1", "events": events}
    b.update(over)
    return b


# --- topics -----------------------------------------------------------------------------------

def test_topics_follow_the_contract():
    assert P.events_topic("k1") == "kundpuls/v1/kiosk/k1/events"
    assert P.ack_topic("k1") == "kundpuls/v1/kiosk/k1/ack"
    assert P.status_topic("k1") == "kundpuls/v1/kiosk/k1/status"
    assert P.config_topic("k1") == "kundpuls/v1/kiosk/k1/config"
    assert P.alerts_topic("s1") == "kundpuls/v1/site/s1/alerts"
    assert P.SHARED_EVENTS_SUBSCRIPTION == "$share/ingest/kundpuls/v1/kiosk/+/events"
    assert P.STATUS_SUBSCRIPTION == "kundpuls/v1/kiosk/+/status"
    assert P.events_topic("k1", prefix="acme/") == "acme/kundpuls/v1/kiosk/k1/events"
    assert P.shared_events_subscription("acme/") == "$share/ingest/acme/kundpuls/v1/kiosk/+/events"


def test_topic_round_trip_and_rejects():
    for kind, build in (("events", P.events_topic), ("ack", P.ack_topic),
                        ("status", P.status_topic), ("config", P.config_topic)):
        assert P.parse_kiosk_topic(build("k-1_x", "a/b/"), "a/b/") == ("k-1_x", kind)
    assert P.parse_site_topic(P.alerts_topic("s1")) == "s1"
    for bad in ("kundpuls/v1/kiosk/k1", "kundpuls/v1/kiosk/k1/events/x", "kundpuls/v2/kiosk/k1/events",
                "kundpuls/v1/kiosk/k+1/events", "kundpuls/v1/kiosk/k1/secrets", "acme/kundpuls/v1/kiosk/k1/events"):
        with pytest.raises(ProtocolError):
            P.parse_kiosk_topic(bad)
    with pytest.raises(ValueError):
        P.events_topic("k/1")
    with pytest.raises(ValueError):
        P.events_topic("k1", prefix="no-slash")
    with pytest.raises(ValueError):
        P.events_topic("k1", prefix="a/#/")


def test_a_value_off_its_scale_is_refused_by_the_scale_rules():
    from server_sync.protocol.scales import SCALES
    for name, scale in SCALES.items():
        for value in range(-1, 12):
            event = response_event(scale=name, value=value)
            if value in scale.values:
                assert P.validate_event(event, KIOSK, now=NOW).value == value
            else:
                with pytest.raises(ProtocolError, match=f"out of range for {name}"):
                    P.validate_event(event, KIOSK, now=NOW)


# --- batches ----------------------------------------------------------------------------------

def test_batch_round_trip_with_recorded_events(recorder, store, cfg):
    r1 = recorder.record("visit", 1)
    recorder.record_followup(r1.id, ["queue"], "kö, ring 070-123 45 67")
    recorder.record("recommend", 10, language="en")
    events = ([r.to_event() for r in Response.select().order_by(Response.seq)]
              + [f.to_event() for f in FollowUp.select()])
    payload = P.encode_batch(cfg.kiosk_id, "b-42", events)
    got = P.decode_batch(P.events_topic(cfg.kiosk_id), payload, now=NOW)
    assert got.batch_id == "b-42" and got.kiosk_id == cfg.kiosk_id and got.size == len(payload)
    assert [e.as_dict() for e in got.events] == events
    assert got.events[0].recorded == datetime(2026, 11, 23, 11, 0, tzinfo=timezone.utc)


def test_a_batch_of_events_serialised_one_by_one_is_the_batch():
    events = [response_event(i) for i in range(1, 6)]
    typed = [P.validate_event(e, KIOSK, now=NOW) for e in events]
    one_by_one = P.encode_batch_json(KIOSK, "b-1", [P.event_json(e) for e in typed])
    assert json.loads(one_by_one) == json.loads(P.encode_batch(KIOSK, "b-1", [with_defaults(e) for e in events]))
    assert P.decode_batch(TOPIC, one_by_one, now=NOW).events == tuple(typed)


@pytest.mark.parametrize("mutate, reason", [
    (lambda b: b"{not json", "malformed JSON"),
    (lambda b: b"\xff\xfe", "not UTF-8"),
    (lambda b: b'{"schema": NaN}', "malformed JSON"),
    (lambda b: b"[1, 2]", "must be a JSON object"),
    (lambda b: {k: v for k, v in b.items() if k != "schema"}, "missing schema version"),
    (lambda b: {**b, "schema": 2}, "unsupported schema version 2"),
    (lambda b: {**b, "schema": True}, "unsupported schema version"),
    (lambda b: {**b, "kiosk_id": "other-kiosk"}, "does not match topic"),
    (lambda b: {**b, "extra": 1}, "unknown field 'extra'"),
    (lambda b: {**b, "events": []}, "no events"),
    (lambda b: {**b, "events": {}}, "events must be an array"),
    (lambda b: {**b, "batch": "x" * 200}, "batch id"),
    (lambda b: {**b, "events": [response_event(type="tap")]}, "unknown event type 'tap'"),
    (lambda b: {**b, "events": [response_event(type=[])]}, "unknown event type []"),
    (lambda b: {**b, "events": [response_event(type={})]}, "unknown event type {}"),
    (lambda b: {**b, "events": [response_event(id="not-a-uuid")]}, "id: expected a lowercase UUID"),
    (lambda b: {**b, "events": [response_event(seq=0)]}, "seq: Expected `int` >= 1"),
    (lambda b: {**b, "events": [response_event(seq="1")]}, "seq: Expected `int`, got `str`"),
    (lambda b: {**b, "events": [response_event(seq=True)]}, "seq: Expected `int`, got `bool`"),
    (lambda b: {**b, "events": [response_event(value=5)]}, "value 5 out of range for smiley4 (1-4)"),
    (lambda b: {**b, "events": [response_event(scale="nps11", value=11)]}, "out of range for nps11"),
    (lambda b: {**b, "events": [response_event(value=2.0)]}, "value: Expected `int`, got `float`"),
    (lambda b: {**b, "events": [response_event(scale="stars")]}, "scale: Invalid enum value 'stars'"),
    (lambda b: {**b, "events": [response_event(audience="boss")]}, "audience: Invalid enum value 'boss'"),
    (lambda b: {**b, "events": [response_event(language="de")]}, "language: Invalid enum value 'de'"),
    (lambda b: {**b, "events": [response_event(recorded_at="2026-11-23 11:00:00")]}, "UTC with milliseconds"),
    (lambda b: {**b, "events": [response_event(recorded_at="2026-13-23T11:00:00.000Z")]}, "not a real date"),
    (lambda b: {**b, "events": [response_event(recorded_at="2099-01-01T00:00:00.000Z")]}, "in the future"),
    (lambda b: {**b, "events": [response_event(recorded_at="2019-12-31T23:59:59.999Z")]}, "before 2020"),
    (lambda b: {**b, "events": [response_event(monotonic_ns=-1)]}, "monotonic_ns: Expected `int` >= 0"),
    (lambda b: {**b, "events": [response_event(boot_id="boot")]}, "boot_id: expected a lowercase UUID"),
    (lambda b: {**b, "events": [response_event(clock_synced=1)]}, "clock_synced: Expected `bool`, got `int`"),
    (lambda b: {**b, "events": [response_event(filtered="spam")]}, "filtered: Invalid enum value 'spam'"),
    (lambda b: {**b, "events": [response_event(kiosk_id="k2")]}, "does not match"),
    (lambda b: {**b, "events": [{k: v for k, v in response_event().items() if k != "value"}]}, "missing required field `value`"),
    (lambda b: {**b, "events": [{**response_event(), "name": "Anna"}]}, "unknown field `name`"),
    (lambda b: {**b, "events": [followup_event(reasons=["bad code!"])]}, "reasons[0]: expected an identifier"),
    (lambda b: {**b, "events": [followup_event(reasons=["queue", "queue"])]}, "listed twice"),
    (lambda b: {**b, "events": [followup_event(comment="x" * 2001)]}, "comment: Expected `str` of length <= 2000"),
    (lambda b: {**b, "events": [followup_event(reasons=[], comment=None)]}, "needs a reason or a comment"),
    (lambda b: {**b, "events": [response_event(1), response_event(1)]}, "duplicate event id"),
    (lambda b: {**b, "events": [response_event(1), response_event(2, seq=1)]}, "duplicate seq"),
    (lambda b: {**b, "events": ["x"]}, "event 0 must be an object"),
    # The anchors' form is the kiosk's code: off it, the batch is refused (their values, which a
    # damaged card can change, are not: test_an_anchor_whose_values_are_off_the_contract_is_ignored).
    (lambda b: {**b, "anchors": {}}, "anchors: Expected `array`, got `object`"),
    (lambda b: {**b, "anchors": [[BOOT, "2026-11-23T11:00:00.000Z", -1]]}, "anchors: [0]: Expected `object`"),
    (lambda b: {**b, "anchors": [{**ANCHOR, "name": "x"}]}, "unknown field `name`"),
    (lambda b: {**b, "anchors": [{"boot_id": BOOT, "recorded_at": "2026-11-23T11:00:00.000Z"}]},
     "missing required field `monotonic_ns`"),
    (lambda b: {**b, "anchors": [ANCHOR] * (P.MAX_ANCHORS + 1)}, "anchors: Expected `array` of length <="),
])
def test_decode_batch_rejects_with_a_precise_reason(mutate, reason):
    obj = mutate(batch([response_event(1), followup_event(2)]))
    with pytest.raises(ProtocolError) as e:
        decode(obj)
    assert reason in e.value.reason


BOOT = "11111111-1111-4111-8111-111111111111"
ANCHOR = {"boot_id": BOOT, "recorded_at": "2026-11-23T11:00:00.000Z", "monotonic_ns": 7}


def test_a_batch_names_clock_anchors_and_those_no_synced_clock_reads_are_left_out():
    """`anchors` is optional (a batch of an older kiosk has none); an anchor whose time a synced
    clock cannot read says nothing, and is dropped rather than the batch refused."""
    assert decode(batch([response_event(1)])).anchors == ()
    odd = [{**ANCHOR, "recorded_at": t} for t in ("2019-12-31T23:59:59.999Z", "2026-11-24T12:00:00.001Z",
                                                   "2026-02-30T10:00:00.000Z")]
    got = decode({**batch([response_event(1)]), "anchors": [ANCHOR, *odd]})
    assert got.anchors == (P.Anchor(**ANCHOR),)
    assert json.loads(P.encode_batch(KIOSK, "b-1", [], [P.Anchor(**ANCHOR)]))["anchors"] == [ANCHOR]
    assert "anchors" not in json.loads(P.encode_batch(KIOSK, "b-1", []))


@pytest.mark.parametrize("field, value", [
    ("boot_id", "boot"), ("boot_id", None), ("recorded_at", "2026-11-23T1X:00:00.000Z"), ("recorded_at", "MjAyNg=="),
    ("recorded_at", 20261123), ("monotonic_ns", "12x"), ("monotonic_ns", -1), ("monotonic_ns", 1.5),
    ("monotonic_ns", P.MAX_INT64 + 1), ("monotonic_ns", True)])
def test_an_anchor_whose_values_are_off_the_contract_is_ignored(field, value):
    """A kiosk names an anchor from a synced answer's cells: a card that damaged one (a flipped
    byte, a number turned text) made every batch naming it a fault of the whole batch, dead-
    lettered unacknowledged; the kiosk sent it again as it was, and delivery stopped for good.
    Such an anchor says nothing of the clock: it is left out, as one no synced clock reads is."""
    got = decode({**batch([response_event(1)]), "anchors": [{**ANCHOR, field: value}, ANCHOR]})
    assert [e.seq for e in got.events] == [1] and got.anchors == (P.Anchor(**ANCHOR),)
    assert P.valid_anchor(**{**ANCHOR, field: value}) is None
    assert P.valid_anchor(**ANCHOR) == P.Anchor(**ANCHOR)


def test_size_and_count_limits():
    b = batch([response_event(i) for i in range(1, 11)])
    payload = json.dumps(b).encode()
    assert len(decode(payload).events) == 10
    with pytest.raises(ProtocolError, match=r"oversize payload: \d+ bytes > limit 100"):
        decode(payload, max_bytes=100)
    with pytest.raises(ProtocolError, match=r"too many events \(10 > limit 9\)"):
        decode(payload, max_events=9)


def test_decode_batch_needs_an_events_topic():
    with pytest.raises(ProtocolError, match="not an events topic"):
        decode(batch([response_event()]), topic=P.status_topic(KIOSK))


def test_future_slack_is_one_day():
    ok = response_event(recorded_at="2026-11-24T11:59:59.999Z")
    assert decode(batch([ok])).events[0].seq == 1
    with pytest.raises(ProtocolError):
        decode(batch([response_event(recorded_at="2026-11-24T12:00:00.001Z")]))


def test_only_a_synced_clock_is_held_to_the_future_bound():
    """An unsynced clock may run ahead or behind, to 1970 (no RTC, a bad restore): the centre
    corrects the time from the boot's synced events, so the event is not refused for it. A
    synced clock before 2020 still is."""
    ahead = "2027-06-01T00:00:00.000Z"
    got = decode(batch([response_event(1, recorded_at=ahead, clock_synced=False), followup_event(
        2, recorded_at=ahead, clock_synced=False)])).events
    assert [e.recorded_at for e in got] == [ahead, ahead]
    assert P.validate_event(response_event(recorded_at=ahead, clock_synced=False), KIOSK, now=NOW).seq == 1
    with pytest.raises(ProtocolError, match="in the future"):
        decode(batch([response_event(1, recorded_at=ahead)]))
    epoch = "1970-01-01T00:00:05.000Z"
    assert decode(batch([response_event(1, recorded_at=epoch, clock_synced=False)])).events[0].recorded_at == epoch
    with pytest.raises(ProtocolError, match="before 2020"):
        decode(batch([response_event(1, recorded_at="2019-06-01T00:00:00.000Z")]))


def test_an_unsynced_clock_reads_within_the_calendar_the_centre_places_answers_on():
    """Review: an unsynced answer at 9999-12-31 (or 0001-01-01 at a New York site) passed the
    decoder and ended as `internal error: OverflowError` at the centre (its local hour does not
    exist), the whole batch dead-lettered and nothing named, so the kiosk sent it forever. Now
    refused for good: from the Unix epoch to a day before the calendar's end, bounds included."""
    first, last = UNSYNCED_RANGE
    assert (first, last) == ("1970-01-01T00:00:00.000Z", "9999-12-30T23:59:59.999Z")
    for ok in (first, last):
        assert decode(batch([response_event(1, recorded_at=ok, clock_synced=False)])).events[0].recorded_at == ok
    for bad in ("9999-12-31T00:00:00.000Z", "9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z",
                "1969-12-31T23:59:59.999Z"):
        with pytest.raises(P.EventsRefused) as e:
            decode(batch([response_event(1), followup_event(2, recorded_at=bad, clock_synced=False),
                          response_event(3, recorded_at=bad, clock_synced=False)]))
        assert e.value.seqs == (2, 3) and f"recorded_at {bad} of a clock not synced is outside" in e.value.reason


def test_refused_events_are_named_only_when_the_envelope_is_sound():
    # An event that fails on its own: its seq, not its neighbours'.
    with pytest.raises(P.EventsRefused) as e:
        decode(batch([response_event(1), response_event(2, value=9), response_event(3, language="de")]))
    assert e.value.seqs == (2, 3) and "value 9 out of range" in e.value.reason and e.value.batch_id == "b-1"
    # A fault between events (a seq twice): every event of the batch.
    with pytest.raises(P.EventsRefused) as e:
        decode(batch([response_event(1), response_event(2, seq=1)]))
    assert e.value.seqs == (1,)
    # An item without a valid seq cannot be named; the envelope's faults name nothing.
    with pytest.raises(P.EventsRefused) as e:
        decode(batch([response_event(1), response_event(2, seq="2")]))
    assert e.value.seqs == ()
    for bad in ({**batch([response_event(1)]), "kiosk_id": "k2"}, {**batch([response_event(1)]), "extra": 1},
                {**batch([response_event(1)]), "batch": "no spaces"}):
        with pytest.raises(ProtocolError) as e:
            decode(bad)
        assert not isinstance(e.value, P.EventsRefused)


def test_validate_event_without_kiosk_accepts_any_valid_id():
    e = P.validate_event(response_event(kiosk_id="k2"), None, now=NOW)
    assert e.kiosk_id == "k2"
    with pytest.raises(ProtocolError, match="kiosk_id: expected an identifier"):
        P.validate_event(response_event(kiosk_id="k 2"), None, now=NOW)


@pytest.mark.parametrize("etype", [[], {}, None, 1])
def test_validate_event_refuses_a_type_that_is_no_string(etype):
    # An export line's `{"type": []}` was a TypeError (unhashable), a traceback of the import.
    with pytest.raises(ProtocolError, match="unknown event type"):
        P.validate_event(response_event(type=etype), KIOSK, now=NOW)


# --- fuzz: the decoder raises ProtocolError and nothing else ------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_arbitrary_bytes(payload):
    try:
        P.decode_batch(TOPIC, payload, now=NOW)
    except ProtocolError:
        pass


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_fuzz_arbitrary_json(value):
    with pytest.raises(ProtocolError):
        P.decode_batch(TOPIC, json.dumps(value).encode(), now=NOW)


_field_values = st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.text(max_size=40) \
    | st.lists(st.text(max_size=8), max_size=3) | st.floats()


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(list(response_event().keys()) + list(followup_event().keys())),
       _field_values, st.booleans())
def test_fuzz_one_field_of_a_valid_batch(key, value, followup):
    event = followup_event() if followup else response_event()
    if key in event:
        event[key] = value
    try:
        got = decode(json.dumps(batch([event]), allow_nan=True).encode())
    except ProtocolError:
        return
    # Whatever was accepted is exactly the canonical form of what was sent.
    assert got.events[0].as_dict() == with_defaults(event)


@settings(max_examples=200, deadline=None)
@given(st.lists(json_values, max_size=3), json_values)
def test_fuzz_other_decoders(events, value):
    for decoder in (P.decode_ack, P.decode_status, P.decode_config, P.decode_alert):
        for payload in (json.dumps(value).encode(), json.dumps({"schema": 1, "events": events}).encode()):
            try:
                decoder(payload)
            except ProtocolError:
                pass


# --- acks ---------------------------------------------------------------------------------------

@given(st.sets(st.integers(1, 5000), max_size=300))
def test_ack_round_trip_covers_exactly_the_acked_seqs(seqs):
    ack = P.decode_ack(P.encode_ack("b-1", seqs))
    assert ack.batch_id == "b-1" and ack.count == len(seqs)
    for s in range(1, 5001, 7):
        assert ack.covers(s) == (s in seqs)


def test_ack_is_compact_for_consecutive_seqs():
    payload = P.encode_ack("b-1", range(1, 501))
    assert json.loads(payload)["seqs"] == [[1, 500]]
    assert len(payload) < 60


def test_ack_names_rejected_events_only_when_there_are_some():
    plain = P.encode_ack("b-1", [1, 2, 3])
    assert b"rejected" not in plain                # a kiosk from before the field reads it as always
    ack = P.decode_ack(P.encode_ack("b-2", [], rejected=[([5, 6, 7, 9], "event x: value 9 out of range"),
                                                          ([], "nothing to name")]))
    assert ack.ranges == () and ack.count == 0
    assert ack.rejected == (P.Rejected(((5, 7), (9, 9)), "event x: value 9 out of range"),)
    assert ack.settled == ((5, 7), (9, 9))
    long = P.decode_ack(P.encode_ack("b-3", [], rejected=[([1], "x" * 2000)]))
    assert len(long.rejected[0].reason) == 500


INCARNATION = "0123456789abcdef0123456789abcdef"


def test_a_batch_id_names_the_incarnation_that_sent_it_and_the_ack_echoes_it():
    batch_id = P.incarnation_batch_id(INCARNATION, 7)
    assert batch_id == f"{INCARNATION}.7" and P.incarnation_of(batch_id) == INCARNATION
    # Any centre takes it as the batch id it always was, and echoes it in its ack.
    got = P.decode_batch(TOPIC, P.encode_batch(KIOSK, batch_id, [response_event()]), now=NOW)
    assert got.batch_id == batch_id
    ack = P.decode_ack(P.encode_ack(got.batch_id, [1], rejected=[([2], "r")]))
    assert ack.incarnation == INCARNATION
    longest = P.incarnation_batch_id(INCARNATION, 10 ** 20 - 1)
    assert P.decode_ack(P.encode_ack(longest, [1])).incarnation == INCARNATION


@pytest.mark.parametrize("batch_id", ["b-1", "8a1f2c3e-0000-4000-8000-000000000001", INCARNATION,
                                      f"{INCARNATION.upper()}.1", f"{INCARNATION}.x", f"{INCARNATION[1:]}.1",
                                      f"{INCARNATION}.1.2", f"x{INCARNATION}.1"])
def test_a_batch_id_of_another_form_names_no_incarnation(batch_id):
    assert P.incarnation_of(batch_id) is None
    assert P.decode_ack(P.encode_ack(batch_id, [1])).incarnation is None


@pytest.mark.parametrize("incarnation, n", [("k1", 1), (INCARNATION.upper(), 1), (INCARNATION, -1),
                                            (INCARNATION, 10 ** 20)])
def test_a_bad_incarnation_makes_no_batch_id(incarnation, n):
    with pytest.raises(ValueError):
        P.incarnation_batch_id(incarnation, n)


@pytest.mark.parametrize("payload", [
    b'{"schema":1,"batch":"b","seqs":[[3,1]]}', b'{"schema":1,"batch":"b","seqs":[[0,1]]}',
    b'{"schema":1,"batch":"b","seqs":[[1]]}', b'{"schema":1,"batch":"b","seqs":"1-3"}',
    b'{"schema":1,"batch":"b"}', b'{"schema":2,"batch":"b","seqs":[]}',
    b'{"schema":1,"batch":"b","seqs":[],"rejected":{}}',
    b'{"schema":1,"batch":"b","seqs":[],"rejected":[[1,2]]}',
    b'{"schema":1,"batch":"b","seqs":[],"rejected":[{"seqs":[[1,2]]}]}',
    b'{"schema":1,"batch":"b","seqs":[],"rejected":[{"seqs":[[1,2]],"reason":7}]}',
    b'{"schema":1,"batch":"b","seqs":[],"rejected":[{"seqs":[[1,2]],"reason":"r","why":"x"}]}',
    b'{"schema":1,"batch":"b","seqs":[[1,5]],"rejected":[{"seqs":[[5,6]],"reason":"r"}]}',
    b'{"schema":1,"batch":"b","seqs":[],"rejected":[{"seqs":[[1,2]],"reason":"r"},{"seqs":[[2,2]],"reason":"s"}]}',
    b'{"schema":1,"batch":"b","seqs":[[1,4],[3,6]]}'])
def test_bad_acks_are_refused(payload):
    with pytest.raises(ProtocolError):
        P.decode_ack(payload)


# --- status -------------------------------------------------------------------------------------

def test_status_round_trip_and_will():
    payload = P.encode_status(version="0.1.0", outbox_depth=12, oldest_unacked_s=300,
                              clock_synced=False, disk_free_mb=900, config_version=3,
                              config_error="config version 2 is not newer", ts="2026-11-23T12:00:00.000Z")
    s = P.decode_status(payload)
    assert s.online and s.outbox_depth == 12 and s.clock_synced is False and s.config_version == 3
    assert s.config_error.startswith("config version 2")
    will = P.decode_status(P.will_payload())
    assert will.online is False and will.outbox_depth is None
    assert P.decode_status(P.offline_payload("2026-11-23T12:00:00.000Z")).online is False
    with pytest.raises(ProtocolError, match="outbox_depth: Expected `int | null`"):
        P.decode_status(b'{"schema":1,"online":true,"outbox_depth":"many"}')
    with pytest.raises(ProtocolError, match="unknown field"):
        P.decode_status(b'{"schema":1,"online":true,"password":"x"}')
    assert s.rejected is None and b"rejected" not in payload       # sent only when there are some
    refused = P.encode_status(version="0.1.0", outbox_depth=0, oldest_unacked_s=None, clock_synced=True,
                              disk_free_mb=1, config_version=1, ts="2026-11-23T12:00:00.000Z", rejected=3)
    assert P.decode_status(refused).rejected == 3 and P.decode_status(refused).as_dict()["rejected"] == 3


# --- config push --------------------------------------------------------------------------------

def test_merge_pushed_config_changes_only_pushable_parts(config_mapping):
    pushed = {"version": 7, "languages": ["en", "sv"], "filters": {"repeat_window_s": 2.0},
              "questions": [config_mapping["questions"][0]], "schedule": []}
    merged = P.merge_pushed_config(config_mapping, pushed)
    cfg = kconfig.parse_config(merged)
    assert cfg.config_version == 7 and cfg.languages == ("en", "sv") and cfg.default_language == "sv"
    assert cfg.filters.repeat_window_s == 2.0 and cfg.filters.burst_per_minute == 10
    assert [q.id for q in cfg.questions] == ["visit"] and cfg.schedule == ()
    assert cfg.kiosk_id == config_mapping["kiosk"]["id"] and cfg.broker.port == 1883
    assert config_mapping["config_version"] == 1          # the base is not modified


def test_a_push_of_questions_replaces_the_files_schedule_with_them(config_mapping):
    """The file schedules 'pulse' (as the reference kiosk.toml once did on every kiosk): a push of
    questions alone, which `config push --dry-run` accepts, was refused by the kiosk ("no question
    with id 'pulse'"). Questions and their schedule go together; a push without questions keeps
    the file's schedule."""
    assert [e["question"] for e in config_mapping["schedule"]] == ["pulse", "visit"]
    visit = config_mapping["questions"][0]
    pushed, cfg = validate_push(config_mapping, P.encode_config(5, {"questions": [visit]}), current_version=1)
    assert [q.id for q in cfg.questions] == ["visit"] and cfg.schedule == ()
    scheduled = {"questions": config_mapping["questions"], "schedule": [{"question": "pulse", "from": "07:00", "to": "08:00"}]}
    _, cfg = validate_push(config_mapping, P.encode_config(6, scheduled), current_version=1)
    assert [(e.question, e.start.hour) for e in cfg.schedule] == [("pulse", 7)]
    _, cfg = validate_push(config_mapping, P.encode_config(7, {"ui": {"thank_you_s": 3.0}}), current_version=1)
    assert [e.question for e in cfg.schedule] == ["pulse", "visit"]


def test_validate_pushed_config(config_mapping):
    ok = P.encode_config(5, {"ui": {"thank_you_s": 3.0}})
    pushed, cfg = validate_push(config_mapping, ok, current_version=1)
    assert pushed["version"] == 5 and cfg.ui.thank_you_s == 3.0
    with pytest.raises(ProtocolError, match="not newer than the applied 5"):
        validate_push(config_mapping, ok, current_version=5)
    bad = json.dumps({"version": 6, "ui": {"thank_you_s": 999}}).encode()
    with pytest.raises(ProtocolError, match=r"invalid config: .*ui.thank_you_s"):
        validate_push(config_mapping, bad, current_version=5)
    hijack = json.dumps({"version": 6, "broker": {"host": "evil"}}).encode()
    with pytest.raises(ProtocolError, match="'broker' cannot be pushed"):
        validate_push(config_mapping, hijack, current_version=5)
    with pytest.raises(ProtocolError, match="version must be a positive integer"):
        P.decode_config(b'{"version": "7"}')
    with pytest.raises(ProtocolError):
        P.encode_config(8, {"kiosk": {"id": "x"}})


# --- alerts -------------------------------------------------------------------------------------

def test_alert_round_trip_and_keep_last():
    a = dict(id="a-1", site_id="s1", raised_at="2026-11-23T12:00:00.000Z", kind="dip",
             message="Happy Index fell to 41 (n=58)")
    got = P.decode_alert(P.encode_alert(**a), site_id="s1")
    assert got.as_dict() == a
    with pytest.raises(ProtocolError, match="arrived on the topic of 's2'"):
        P.decode_alert(P.encode_alert(**a), site_id="s2")
    kept: list = []
    for i in range(25):
        kept = P.keep_alerts(kept, P.Alert(f"a-{i}", "s1", a["raised_at"], "dip", "m"))
    kept = P.keep_alerts(kept, P.Alert("a-24", "s1", a["raised_at"], "dip", "again"))
    assert len(kept) == 20 and kept[-1]["message"] == "again" and kept[0]["id"] == "a-5"


def test_alert_wording_by_language_and_who_may_get_it():
    """`text` (protocol.ALERT_TEXT_SINCE) is the alert in each language. A kiosk of the software
    before it decodes with the alert's old shape, which refuses the field: that is why the centre
    sends it only to sites whose kiosks all read it (reads_alert_text, by their status version)."""
    a = dict(id="alert-7", site_id="s1", raised_at="2026-11-23T12:00:00.000Z", kind="realtime",
             message="'visit' Happy Index 22.2 over today so far")
    worded = P.encode_alert(**a, text={"sv": "Nöjdindex 22,2 i dag", "nb": "Fornøydindeks 22,2", "en": "Happy 22.2"})
    got = P.decode_alert(worded, "s1")
    assert got.text["sv"] == "Nöjdindex 22,2 i dag" and P.keep_alerts([], got)[0]["text"]["nb"] == "Fornøydindeks 22,2"
    plain = P.encode_alert(**a)
    assert b'"text"' not in plain and P.decode_alert(plain, "s1").text is None
    assert "text" not in P.keep_alerts([], P.decode_alert(plain, "s1"))[0]

    class OldAlert(msgspec.Struct, frozen=True, forbid_unknown_fields=True):    # kiosks of 0.1.0
        schema: int
        id: str
        site_id: str
        raised_at: str
        kind: str
        message: str
    assert msgspec.json.decode(plain, type=OldAlert).message == a["message"]
    with pytest.raises(msgspec.ValidationError, match="unknown field `text`"):
        msgspec.json.decode(worded, type=OldAlert)

    for bad, why in [({"de": "x"}, "Invalid enum value 'de'"), ({"sv": ""}, "length >= 1"),
                     ({"sv": "x" * 1001}, "length <= 1000"), ({"sv": 3}, "Expected `str`")]:
        with pytest.raises(ProtocolError, match=why):
            P.encode_alert(**a, text=bad)
    body = json.loads(worded)
    for bad in ([], {"sv": None}, {"fi": "x"}):
        with pytest.raises(ProtocolError):
            P.decode_alert(json.dumps({**body, "text": bad}).encode(), "s1")
    assert P.ALERT_TEXT_SINCE == (0, 2, 0)
    assert [P.reads_alert_text(v) for v in ("0.2.0", "0.2.1", "0.10.0", "1.0.0")] == [True] * 4
    assert [P.reads_alert_text(v) for v in ("0.1.0", "0.1.9", None, "", "dev", "0.2", "0.2.0rc1", "0.2.0.1",
                                            "٠.٢.٠", " 0.2.0")] == [False] * 10


# --- decoded events ------------------------------------------------------------------------------

def test_events_are_immutable_and_compare_by_value():
    a = decode(batch([response_event(1), response_event(2), followup_event(3)])).events
    b = decode(batch([response_event(1), response_event(2), followup_event(3)])).events
    assert a == b and hash(a) == hash(b)
    assert [type(e) for e in a] == [P.ResponseEvent, P.ResponseEvent, P.FollowUpEvent]
    assert a[1].type == "response" and a[2].type == "followup" and a[2].reasons == ("queue", "staff")
    for e in a:
        with pytest.raises(AttributeError):
            e.value = 1


@pytest.mark.parametrize("payload", [
    b'{"schema": NaN}', b'{"schema": Infinity}', b'{"schema": -Infinity}',
    b'{"schema": 1, "kiosk_id": "\\ud800"}',                    # a lone surrogate
    b'{"schema": 1, "kiosk_id": "k", "x": 123456789012345678901234567890}',
    b"[" * 5000 + b"]" * 5000,
    '{"schema": 1, "kiosk_id": "\ud800"}',                      # text that is not UTF-8 encodable
])
def test_strict_json_is_refused_with_a_reason(payload):
    with pytest.raises(ProtocolError) as e:
        P.decode_batch(TOPIC, payload, now=NOW)
    assert str(e.value).startswith(("malformed JSON", "batch:")), str(e.value)


def test_bad_utf8_names_the_byte():
    with pytest.raises(ProtocolError, match=r"not UTF-8 \(byte 13\)"):
        P.decode_batch(TOPIC, b'{"schema": 1,\xff}', now=NOW)
    assert len(decode(batch([response_event(1), response_event(2)])).events) == 2
