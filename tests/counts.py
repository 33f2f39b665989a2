"""The counts a delivery-guarantee test prints: filed, delivered, duplicates,
absorbed repeats, lost, dead-lettered; taken from the simulators' request logs
and the bridge's dead-letter store."""

from __future__ import annotations

from sqlalchemy import func, select

from bridge.store import open_store
from bridge.store.schema import dead_letters
from tests.bridgerun import Flow, write_counts


def report(flow: Flow, label: str) -> dict[str, int]:
    """Print and return the counts a reader of the test log wants to see."""
    effects = write_counts(flow.sims, outcomes=("done", "launched"))
    absorbed = write_counts(flow.sims, outcomes=("already",))
    snap = flow.snapshot()
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    with store.begin() as conn:
        dead = conn.execute(select(func.count()).select_from(dead_letters)).scalar()
    store.dispose()
    counts = {
        "filed": len(flow.cases),
        "delivered": sum(snap.finished(case) for case in flow.cases),
        "duplicates": sum(n - 1 for c in effects.values() for n in c.values() if n > 1),
        "absorbed_repeats": sum(sum(c.values()) for c in absorbed.values()),
        "lost": sum(not snap.finished(case) for case in flow.cases),
        "dead_lettered": int(dead or 0),
    }
    print(f"\n{label}: " + " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts
