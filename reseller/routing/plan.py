"""The routing job: refresh the quality figures, then store every service's route (the order
its candidates are tried in, and why). A candidate newly demoted or recovered is logged
(`candidate_demoted`, `candidate_recovered`); the alert reads the stored routes. A service
whose first candidate changed is priced again from the new one (the catalog is rebuilt from
the stored offers): the sell rate follows the candidate orders go to."""

from __future__ import annotations

from collections import Counter, defaultdict

from reseller import db, logs
from reseller.catalog import sync as catalog_sync
from reseller.config import Config
from reseller.db import Q
from reseller.routing import choose, quality

log = logs.get_logger()


async def run(pool: db.Database, config: Config) -> Counter[str]:
    settings = config.routing
    await quality.refresh(pool, settings.window_days)
    measured = {(q.provider, q.upstream_service): q for q in await quality.figures(pool)}
    candidates: dict[int, list[choose.Candidate]] = defaultdict(list)
    for row in await pool.fetch(Q.routing_candidates):
        key = (row["provider"], row["upstream_service"])
        candidates[row["service_id"]].append(
            choose.Candidate(row["priority"], *key, row["cost_rate"], measured.get(key))
        )
    current = await pool.fetch(Q.current_routes)
    before = {r["service_id"]: set(r["demoted"]) for r in current}
    first_before = {r["service_id"]: r["route"][0] for r in current if r["route"]}
    plans = {
        service_id: choose.plan(found, settings.mode_for(service_id), settings.floors)
        for service_id, found in candidates.items()
    }
    async with pool.transaction() as conn:
        await conn.execute(Q.clear_routes)
        await conn.executemany(
            Q.insert_route,
            [
                (i, settings.mode_for(i), list(p.route), p.explore, list(p.demoted), p.reason)
                for i, p in plans.items()
            ],
        )
    counts: Counter[str] = Counter(services=len(plans))
    rerouted = [i for i, p in plans.items() if p.route and first_before.get(i) != p.route[0]]
    if rerouted:
        rebuilt = await catalog_sync.rebuild(pool, config)
        counts["repriced"] = rebuilt.changes.prices_moved
    for service_id, found in candidates.items():
        was, now = before.get(service_id, set()), set(plans[service_id].demoted)
        for c in found:
            if c.priority in now - was:
                why = choose.demotion(c, settings.floors)
                log.warning("candidate_demoted", service=service_id, candidate=c.name, reason=why)
                counts["demoted"] += 1
            elif c.priority in was - now:
                log.info("candidate_recovered", service=service_id, candidate=c.name)
                counts["recovered"] += 1
    return counts
