"""A primary is SIGKILLed under a stream of set/get, on a Cluster and on Sentinel.

Each test starts a deployment of its own, and runs a sync and an asyncio stream through the
failover side by side. Callers must see no error (each verb retries through the failover)
and one stall shorter than the retry deadline; every session acknowledged before the kill
must be readable after the promotion. With the replica's link cut first, what was
acknowledged before the cut must be kept; what came after lived on the primary alone, and
the test records how much of it was lost (benchmarks/failover.py measures it over runs).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sesh.backends.redis import FAILOVER_RETRY_SECONDS
from testbed.failover import kill_primary_under_load
from testbed.topologies import Cluster, SentinelGroup


@pytest.mark.parametrize("cut_link", [False, True], ids=["healthy link", "link cut first"])
@pytest.mark.parametrize("topology", [Cluster, SentinelGroup], ids=["cluster", "sentinel"])
def test_a_failover_costs_callers_a_stall_not_an_error(
    topology: Callable[[], Cluster | SentinelGroup],
    cut_link: bool,
    record_property: Callable[[str, object], None],
) -> None:
    deployment = topology()
    try:
        deployment.start()
        outcome = kill_primary_under_load(deployment, cut_link=cut_link)
    finally:
        deployment.close()
    diagnosis = outcome.diagnosis
    outcome.diagnosis = []
    for name, value in vars(outcome).items():
        record_property(name, value)
    print(f"\n{topology.__name__}: {outcome}", *diagnosis, sep="\n")
    assert outcome.errors == []
    assert not outcome.replica_behind, "the replica had not caught up when its link was cut"
    assert outcome.lost == 0
    assert outcome.acknowledged_before_kill > 200
    assert outcome.kill_to_promotion < 10
    assert outcome.longest_call < FAILOVER_RETRY_SECONDS
    if cut_link:  # the window is real: sessions acknowledged in it died with the primary
        assert outcome.acknowledged_while_cut > 0
        assert outcome.lost_while_cut > 0
    else:
        assert outcome.unread_writes == 0
