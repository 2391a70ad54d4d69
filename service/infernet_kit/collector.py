"""The cyclic garbage collector's settings for the kit's long-running servers: the node, and the workers of the
services and the dev backend.

A first collection after 10,000 allocations instead of CPython's 700: every job, delivery and request allocates
hundreds of short-lived objects (futures, models, JSON). With the defaults, at 2,000 subscriptions the node's
collector ran ~150 times a second and its full collections, each scanning every object the node holds, took ~19 %
of its CPU; a service worker, whose inference client allocates more per request, collected every few requests.
At 10,000 subscriptions (staggered) a first collection every 10,000 still came once a second, ~6-10 ms each over
the deliveries in flight (which survive it: hardly any of what it scans is garbage), 4-6 % of the node's CPU; at
100,000 it came once in a 170-second stretch (0.2-0.4 %), RSS unchanged (docs/PERFORMANCE.md, "Catch-up,
cancellations and the collector at 10,000").
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (100_000, 20, 20)


def settle() -> None:
    """What a server made while starting (modules, schemas, config, what it loaded) lives as long as it does:
    frozen, the collector never scans it again; and it collects less often (`GC_THRESHOLDS`)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
