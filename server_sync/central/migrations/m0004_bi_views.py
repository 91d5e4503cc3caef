"""Documented SQL views for BI tools (Metabase, Grafana, Power BI); see docs/analysis.md.

Views only read; their column names are a public contract: add columns, never rename or drop
them (a new migration replaces a view). Flagged presses are left out, as in every report.
"""

from peewee import Database

from server_sync.central.dialect import Dialect
from server_sync.central.rollups import happy_points_sql
from server_sync.protocol.scales import sql_rule


def _metrics(t: str = "") -> str:
    happy = happy_points_sql(f"{t}scale", f"{t}sum_v", f"{t}n")
    return (f"{happy} AS happy_index,"
            f" 100.0 * {t}top2 / {t}n AS csat,"
            f" CASE WHEN {t}scale = 'nps11' THEN 100.0 * ({t}top2 - {t}negative) / {t}n END AS nps")


VIEWS = {
    "v_answers": f"""SELECT r.id, r.site_id, s.name AS site_name, r.kiosk_id, r.question_id,
        r.question_version, r.scale, r.audience, r.value, r.language, r.recorded_at, r.time_status,
        {happy_points_sql('r.scale', 'r.value')} AS happy_points,
        {sql_rule('top2', 'r.scale', 'r.value')} AS is_top2,
        {sql_rule('negative', 'r.scale', 'r.value')} AS is_negative
        FROM response r LEFT JOIN site s ON s.id = r.site_id WHERE r.filtered IS NULL""",
    "v_followup_reasons": """SELECT f.id AS followup_id, r.id AS response_id, r.site_id, r.kiosk_id,
        r.question_id, r.scale, r.audience, r.value, r.recorded_at, fr.reason, f.comment
        FROM followup_reason fr JOIN followup f ON f.id = fr.followup_id
        JOIN response r ON r.id = fr.response_id WHERE r.filtered IS NULL""",
    "v_hourly": """SELECT site_id, kiosk_id, question_id, audience, scale, value, hour AS hour_utc,
        local_date, local_hour, weekday, n FROM rollup_hourly""",
    "v_daily_site": f"""SELECT d.site_id, s.name AS site_name, d.question_id, d.audience, d.scale,
        d.local_date, d.n, d.negative, {_metrics('d.')}
        FROM rollup_daily d LEFT JOIN site s ON s.id = d.site_id""",
    "v_daily_chain": f"""SELECT question_id, audience, scale, local_date, n, negative, {_metrics()}
        FROM (SELECT question_id, audience, scale, local_date, SUM(n) AS n, SUM(sum_v) AS sum_v,
              SUM(top2) AS top2, SUM(negative) AS negative
              FROM rollup_daily GROUP BY question_id, audience, scale, local_date) c""",
    "v_reasons_daily": """SELECT site_id, question_id, audience, scale, local_date, reason, n, negative
        FROM rollup_reason_daily""",
    "v_alerts": """SELECT id, site_id, question_id, kind, raised_at, last_seen_at, n, negative, value,
        baseline, p_value, message, acked_at, ack_comment FROM alert""",
    "v_actions": "SELECT id, site_id, question_id, action_date, note, created_at FROM action",
    "v_fleet": """SELECT k.id AS kiosk_id, k.site_id, k.active, st.online, st.last_seen, st.outbox_depth,
        st.oldest_unacked_s, st.clock_synced, st.config_version, st.version
        FROM kiosk k LEFT JOIN kiosk_status st ON st.kiosk_id = k.id""",
}


def up(db: Database, dialect: Dialect) -> None:
    for name, body in VIEWS.items():
        db.execute_sql(f"CREATE VIEW {name} AS {body}")
