"""``store-edge simulate store-day``: a hub and three edge devices as real processes under injected faults.

See :mod:`edge.simulate.orchestrator` for the day's timeline and :mod:`edge.simulate.reconcile` for the
end-of-day checks.
"""
