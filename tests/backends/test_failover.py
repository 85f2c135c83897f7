"""A primary is SIGKILLed under a stream of set/get, on a Cluster and on Sentinel.

Each test starts a deployment of its own. Callers must see no error (each verb retries
through the failover) and one stall shorter than the retry deadline; every session
acknowledged before the kill must be readable after the promotion.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sesh.backends.redis import FAILOVER_RETRY_SECONDS
from tests.failover import kill_primary_under_load
from tests.topologies import Cluster, SentinelGroup


@pytest.mark.parametrize("topology", [Cluster, SentinelGroup], ids=["cluster", "sentinel"])
def test_a_failover_costs_callers_a_stall_not_an_error(
    topology: Callable[[], Cluster | SentinelGroup],
    record_property: Callable[[str, object], None],
) -> None:
    deployment = topology()
    try:
        deployment.start()
        outcome = kill_primary_under_load(deployment)
    finally:
        deployment.close()
    for name, value in vars(outcome).items():
        record_property(name, value)
    print(f"\n{topology.__name__}: {outcome}")
    assert outcome.errors == []
    assert outcome.lost == 0
    assert outcome.acknowledged_before_kill > 200
    assert outcome.kill_to_promotion < 10
    assert outcome.longest_call < FAILOVER_RETRY_SECONDS
