"""What a person may see: the one function that turns a user into the set of sites they may see,
and the checks every page, export, API call and live stream makes with it.

Admins and analysts see every site; a regional manager the sites of their regions; a store
manager their sites. A site outside the set is answered exactly like a site that does not exist
(404), so a URL cannot even tell whether another store is there. Never widens a set: an empty
set means nothing to see, never "everything".
"""

from __future__ import annotations

from dataclasses import dataclass

from peewee import Database

from server_sync.report.collation import sorted_choices
from server_sync.web.people import REGIONAL, STORE, User
from server_sync.web.queries import site_names


class NotVisible(LookupError):
    """A site (or region) the user may not see, or that does not exist: the web answers 404."""


@dataclass(frozen=True)
class Scope:
    """A user and the sites they may see (`everything`: the whole chain, also sites added later)."""
    user: User
    sites: frozenset[str]
    everything: bool

    def require_site(self, site_id: str) -> str:
        if site_id not in self.sites:
            raise NotVisible(site_id)
        return site_id

    def readable_action(self, action: dict) -> dict:
        """An evaluated action (analysis.actions) as this person may read it: its `control`, the
        rest of the chain's n, negative answers and metrics over the two windows, only for one
        who sees the whole chain. Shown to a regional manager, it less their own sites' figures
        gave the other regions' exact totals, and in a chain of two stores one store manager
        read the other's (a security review). The effect, its interval and verdict stay: they
        are the site's, measured against the rest."""
        if self.everything or not action.get("control"):
            return action
        return dict(action, control=None)

    def narrow(self, site_ids: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The visible sites among `site_ids` (all visible ones when none are named); a named site
        that is not visible raises NotVisible."""
        if site_ids:
            return tuple(sorted(self.require_site(s) for s in dict.fromkeys(site_ids)))
        return tuple(sorted(self.sites))


def visible_sites(db: Database, user: User) -> frozenset[str]:
    """The ids of the sites `user` may see. The single source of every access decision."""
    if user.disabled:
        return frozenset()
    if user.whole_chain:
        return frozenset(r[0] for r in db.execute_sql("SELECT id FROM site"))
    p = db.param
    if user.role == REGIONAL:
        rows = db.execute_sql("SELECT s.id FROM site s JOIN web_user_region ur ON ur.region_id = s.region_id"
                              f" WHERE ur.user_id = {p}", (user.id,))
        return frozenset(r[0] for r in rows)
    if user.role == STORE:
        rows = db.execute_sql("SELECT s.id FROM site s JOIN web_user_site us ON us.site_id = s.id"
                              f" WHERE us.user_id = {p}", (user.id,))
        return frozenset(r[0] for r in rows)
    return frozenset()


def scope_of(db: Database, user: User) -> Scope:
    return Scope(user, visible_sites(db, user), user.whole_chain and not user.disabled)


def visible_regions(db: Database, scope: Scope) -> list[dict]:
    """Regions with at least one visible site (what the region filter offers)."""
    if not scope.sites:
        return []
    rows = db.execute_sql("SELECT r.id, r.name, s.id FROM region r JOIN site s ON s.region_id = r.id"
                          " ORDER BY r.name, r.id").fetchall()
    out: dict[str, dict] = {}
    for rid, name, sid in rows:
        if sid in scope.sites:
            out.setdefault(rid, {"id": rid, "name": name, "sites": []})["sites"].append(sid)
    return list(out.values())


def region_choices(db: Database, scope: Scope, lang: str) -> list[tuple[str, str]]:
    """The region filter's (id, name) pairs, by name in the reader's language."""
    return sorted_choices(((r["id"], r["name"]) for r in visible_regions(db, scope)), lang)


def site_choices(db: Database, scope: Scope, lang: str) -> list[tuple[str, str]]:
    """The site filter's (id, name) pairs, by name in the reader's language: every site the person
    may see, whichever the page lists (the alerts of one store offered that store alone)."""
    return sorted_choices(site_names(db, None if scope.everything else sorted(scope.sites)).items(), lang)


def sites_of_region(db: Database, scope: Scope, region_id: str) -> tuple[str, ...]:
    """The visible sites of a region; a region with none of them visible is NotVisible."""
    for r in visible_regions(db, scope):
        if r["id"] == region_id:
            return tuple(sorted(r["sites"]))
    raise NotVisible(region_id)
