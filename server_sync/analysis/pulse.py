"""Employee pulse beside the customer index, per site, and their correlation across sites. Pure.

The customer side is the Happy Index of the site's customer smiley questions together, the
employee side that of its employee questions; only sites with both enter the correlation
(Pearson r with a Fisher-z interval).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from server_sync.analysis.metrics import Tally, happy_index
from server_sync.analysis.stats import kept, pearson


def pulse(customer: Mapping[str, Tally], employee: Mapping[str, Tally], names: Mapping[str, str] | None = None,
          min_n: int = 5) -> dict:
    sites, points = [], []
    for site in sorted(set(customer) | set(employee)):
        c, e = happy_index(customer.get(site, Tally("smiley4"))), happy_index(employee.get(site, Tally("smiley4")))
        sites.append({"site_id": site, "name": (names or {}).get(site, site), "customer": c.as_dict(),
                      "employee": e.as_dict()})
        points.append((e.value, e.n, c.value, c.n))
    return {"sites": sites, "correlation": correlation(points, min_n), "min_n": min_n}


def correlation(points: Iterable[tuple[float | None, int | None, float | None, int | None]], min_n: int) -> dict | None:
    """Pearson r of the employee and the customer index over the sites' (employee value, its n,
    customer value, its n) where both have a value from at least `min_n` answers."""
    xs, ys = [], []
    for e, e_n, c, c_n in points:
        if e is not None and c is not None and (e_n or 0) >= min_n and (c_n or 0) >= min_n:
            xs.append(e)
            ys.append(c)
    corr = pearson(xs, ys)
    if corr:
        # r and its interval to 4 decimals; the p-value as it is (4 decimals made 2.6e-6 a 0).
        corr = {k: (kept(v) if isinstance(v, float) and k != "p_value" else v) for k, v in corr.items()}
    return corr
