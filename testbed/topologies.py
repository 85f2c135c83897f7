"""Real Redis Cluster and Sentinel deployments on loopback, for the tests and benchmarks.

Both are started from the redis-server on PATH, waited on until healthy, and stopped
(every process they started) by ``close``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from testbed.servers import RedisServer, free_port

FAILOVER_MS = 1000  # cluster-node-timeout / down-after-milliseconds


def wait_for(what: str, ready: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def replica_has(port: int, offset: int, within: float) -> bool:
    """Whether the replica on ``port`` has its primary's writes up to ``offset`` (its
    replication offset, read back), waiting up to ``within`` seconds for them."""
    deadline = time.monotonic() + within
    with _client(port) as replica:
        while replica.info("replication")["slave_repl_offset"] < offset:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
    return True


def _client(port: int) -> redis.Redis:
    return redis.Redis(port=port, socket_timeout=2, socket_connect_timeout=1)


class Cluster:
    """3 primaries, each with 1 replica; slots split evenly; full coverage not required."""

    def __init__(self) -> None:
        self.nodes = [
            RedisServer(
                "--cluster-enabled", "yes",
                "--cluster-node-timeout", str(FAILOVER_MS),
                "--cluster-require-full-coverage", "no",
                "--cluster-config-file", "nodes.conf",
            )
            for _ in range(6)
        ]  # fmt: skip
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes[:3])

    def start(self) -> None:
        started = time.monotonic()
        for node in self.nodes:
            node.start(port=free_port(also_free_at=10000))  # the cluster bus is port + 10000
        clients = [_client(node.port) for node in self.nodes]
        try:
            for client in clients[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", self.nodes[0].port)
            bounds = [0, 5461, 10923, 16384]
            for i, client in enumerate(clients[:3]):
                client.execute_command("CLUSTER", "ADDSLOTS", *range(bounds[i], bounds[i + 1]))
            wait_for(
                "the cluster nodes to meet",
                lambda: all(_known_nodes(c) == 6 for c in clients),
            )
            for primary, replica in zip(clients[:3], clients[3:], strict=True):
                primary_id = primary.execute_command("CLUSTER", "MYID").decode()

                def replicate(replica: redis.Redis = replica, primary_id: str = primary_id) -> bool:
                    return replica.execute_command("CLUSTER", "REPLICATE", primary_id) is not None

                wait_for("replicas to see their primary", replicate)
            wait_for("the cluster to be healthy", lambda: self.healthy(clients))
        finally:
            for client in clients:
                client.close()
        self.startup_seconds = time.monotonic() - started

    @staticmethod
    def healthy(clients: list[redis.Redis]) -> bool:
        for client in clients:
            if b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                return False
        links = [c.info("replication") for c in clients[3:]]
        return all(i.get("master_link_status") == "up" for i in links)

    def primary_for(self, key: str) -> RedisServer:
        """The node that serves ``key`` now (it answers the key's commands, not MOVED)."""
        for node in self.nodes:
            if node.process is None:
                continue
            with _client(node.port) as client:
                if client.info("replication")["role"] != "master":
                    continue
                try:
                    client.execute_command("EXISTS", key)
                except redis.ResponseError:  # MOVED: another node's slot
                    continue
                return node
        raise LookupError("no live primary serves that key")

    def close(self) -> None:
        for node in self.nodes:
            node.close()


def _known_nodes(client: redis.Redis) -> int:
    return len(client.execute_command("CLUSTER", "NODES").splitlines())


class SentinelGroup:
    """1 primary, 1 replica and 3 sentinels watching service ``SERVICE``."""

    SERVICE = "sesh"

    def __init__(self) -> None:
        self.primary = RedisServer()
        self.replica = RedisServer()
        self.sentinels: list[RedisServer] = []
        self.startup_seconds = 0.0

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.SERVICE}"

    def start(self) -> None:
        started = time.monotonic()
        self.primary.start()
        self.replica.extra_args = ("--replicaof", "127.0.0.1", str(self.primary.port))
        self.replica.start()
        config = (
            f"sentinel monitor {self.SERVICE} 127.0.0.1 {self.primary.port} 2\n"
            f"sentinel down-after-milliseconds {self.SERVICE} {FAILOVER_MS}\n"
            f"sentinel failover-timeout {self.SERVICE} 10000\n"
            f"sentinel parallel-syncs {self.SERVICE} 1\n"
        )
        self.sentinels = [RedisServer("--sentinel", config=config) for _ in range(3)]
        for sentinel in self.sentinels:
            sentinel.start()
        wait_for("the replica to sync", self._replica_up)
        wait_for("the sentinels to know each other and the replica", self._sentinels_ready)
        self.startup_seconds = time.monotonic() - started

    def _replica_up(self) -> bool:
        # The replica has loaded its copy, and has what the primary wrote since: the
        # primary starts streaming writes only once the replica's first ACK has come (and
        # the replica says "up" before). A PUBLISH is replicated, and writes no key.
        with _client(self.replica.port) as replica:
            if replica.info("replication").get("master_link_status") != "up":
                return False
        with _client(self.primary.port) as primary:
            primary.publish("__sesh_probe__", "")
            written = primary.info("replication")["master_repl_offset"]
        return replica_has(self.replica.port, written, within=1.0)

    def _sentinels_ready(self) -> bool:
        for sentinel in self.sentinels:
            with _client(sentinel.port) as client:
                others = client.execute_command("SENTINEL", "SENTINELS", self.SERVICE)
                replicas = client.execute_command("SENTINEL", "REPLICAS", self.SERVICE)
                if len(others) < 2 or len(replicas) < 1:
                    return False
        return True

    def current_primary(self) -> int:
        """The port the sentinels now name as the primary."""
        with _client(self.sentinels[0].port) as client:
            _, port = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.SERVICE)
        return int(port)

    def close(self) -> None:
        for server in [*self.sentinels, self.replica, self.primary]:
            server.close()
