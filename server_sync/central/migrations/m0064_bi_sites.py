"""`v_sites`: the sites as a BI tool may read them, with their time zone and region.

A BI role limited to the views (docs/analysis.md, "A role for the BI tool") could not group
figures by region nor tell a site's zone: no view had them, and the `site` and `region` tables are
no part of what such a role may read. This view has what a site is and where it belongs, nothing
of a person: `site_id, site_name, timezone, region_id, region_name` (a site in no region: NULLs).
"""

from peewee import Database

from server_sync.central.dialect import Dialect

VIEWS = {
    "v_sites": """SELECT s.id AS site_id, s.name AS site_name, s.timezone, s.region_id, g.name AS region_name
        FROM site s LEFT JOIN region g ON g.id = s.region_id""",
}


def up(db: Database, dialect: Dialect) -> None:
    for name, body in VIEWS.items():
        db.execute_sql(f"CREATE VIEW {name} AS {body}")
