"""Employee pulse beside the customer index, per site, and their correlation across sites. Pure.

The customer side is the Happy Index of the site's customer smiley questions together, the
employee side that of its employee questions; only sites with both enter the correlation
(Pearson r with a Fisher-z interval).
"""

from __future__ import annotations

from typing import Mapping

from server_sync.analysis.metrics import Tally, happy_index
from server_sync.analysis.stats import pearson


def pulse(customer: Mapping[str, Tally], employee: Mapping[str, Tally], names: Mapping[str, str] | None = None,
          min_n: int = 5) -> dict:
    sites = []
    xs, ys = [], []
    for site in sorted(set(customer) | set(employee)):
        c, e = happy_index(customer.get(site, Tally("smiley4"))), happy_index(employee.get(site, Tally("smiley4")))
        sites.append({"site_id": site, "name": (names or {}).get(site, site), "customer": c.as_dict(),
                      "employee": e.as_dict()})
        if c.value is not None and e.value is not None and c.n >= min_n and e.n >= min_n:
            xs.append(e.value)
            ys.append(c.value)
    corr = pearson(xs, ys)
    if corr:
        corr = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in corr.items()}
    return {"sites": sites, "correlation": corr, "min_n": min_n}
