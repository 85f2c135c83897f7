"""sesh's own path to a Redis Cluster: each command goes to the node that holds its key's
slot, over that node's own link (``_redis_direct`` for threads, ``_redis_pipelined`` for
asyncio), so commands for one node share its connections and, under asyncio, its writes.

redis-py's cluster client keeps what it does well: the slot map (discovery, ``move_slot``
on a MOVED, a full refresh every ``reinitialize_steps`` moves or after a node fails) and
each node's connection settings. Per command, as redis-py does:

- ``MOVED``: the map is patched (or refreshed) and the command sent to the new owner;
- ``ASK``: the command is sent once to the node named, after ``ASKING``, on one
  connection; the map is left as it is (the slot is being migrated);
- a lost connection, a timeout, ``CLUSTERDOWN`` or an uncovered slot: the map is refreshed
  and the error raised; the store retries it within ``retry_for`` (a failover).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import redis.asyncio.cluster
import redis.cluster
from redis.cluster import PRIMARY
from redis.exceptions import (
    AskError,
    ClusterDownError,
    ClusterError,
    MovedError,
    SlotNotCoveredError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from sesh.backends._redis_direct import DirectLink
from sesh.backends._redis_pipelined import PipelinedLink
from sesh.backends._redis_wire import PoolExhausted, StoreClosed

__all__ = ["AsyncClusterLink", "ClusterLink", "let_go"]

REDIRECTS = 16
"""MOVED and ASK answers one command may follow before it gives up (redis-py's too)."""

# After these, the slot map is refreshed before the error goes to the store's retry.
_TOPOLOGY_ERRORS = (RedisConnectionError, RedisTimeoutError, ClusterDownError, SlotNotCoveredError)


def _key(command: tuple[Any, ...]) -> Any:
    # Every sesh command has a key: the first argument, or a script's first key.
    return command[3] if command[0] in ("EVALSHA", "EVAL") else command[1]


def _too_many() -> ClusterError:
    return ClusterError(f"more than {REDIRECTS} MOVED or ASK redirects for one command")


def _refreshes_after(moves: int, client: Any) -> bool:
    # Every reinitialize_steps-th MOVED refreshes the whole map (0: never); a client that
    # redis-py made from a URL holds the setting as text (sesh's own from_url types it).
    steps = int(client.reinitialize_steps or 0)
    return steps > 0 and moves % steps == 0


def _primary(client: Any, slot: int) -> Any:
    try:
        return client.nodes_manager.get_node_from_slot(slot)
    except KeyError:  # (the asyncio map's word for it)
        raise SlotNotCoveredError(f"slot {slot} is not covered by the map") from None


class ClusterLink:
    """Commands to a Redis Cluster, each to its slot's primary, for threads."""

    __slots__ = ("_client", "_links", "_lock", "_moves", "_wait")

    def __init__(self, client: Any, *, wait: float) -> None:
        self._client = client
        self._wait = wait
        self._links: dict[str, DirectLink] = {}
        self._lock = threading.Lock()
        self._moves = 0

    def _link(self, node: Any) -> DirectLink:
        link = self._links.get(node.name)
        if link is None:
            with self._lock:
                link = self._links.get(node.name)
                if link is None:
                    pool = self._client.get_redis_connection(node).connection_pool
                    link = DirectLink(
                        pool.connection_class,
                        dict(pool.connection_kwargs),
                        max_connections=pool.max_connections,
                        wait=self._wait,
                    )
                    self._links[node.name] = link
        return link

    def call(self, command: tuple[Any, ...]) -> Any:
        """The reply to ``command`` from the node that holds its key (see the module)."""
        client = self._client
        slot = client.keyslot(_key(command))
        asked = None
        for _ in range(REDIRECTS):
            try:
                node = _primary(client, slot) if asked is None else asked
                return self._link(node).call(command, asking=asked is not None)
            except MovedError as moved:
                self._moves += 1
                if _refreshes_after(self._moves, client):
                    client.nodes_manager.initialize()
                else:
                    client.nodes_manager.move_slot(moved)
                asked = None
            except AskError as ask:
                # Once, to the node named; the map stays as it is (the slot is moving). A
                # node the map does not know yet (a new one, being filled) is made here.
                asked = client.get_node(host=ask.host, port=ask.port) or _node(ask)
            except (StoreClosed, PoolExhausted):
                raise  # not the topology: nothing to refresh
            except _TOPOLOGY_ERRORS:
                self._refresh()
                raise
        raise _too_many()

    def _refresh(self) -> None:
        # A refresh that fails too (every node it asks is down) is left to the next try:
        # the caller gets the error that led here.
        with contextlib.suppress(Exception):
            self._client.nodes_manager.initialize()

    def close(self) -> None:
        with self._lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            link.close()


def _node(ask: AskError) -> Any:
    return redis.cluster.ClusterNode(ask.host, ask.port, PRIMARY)  # type: ignore[no-untyped-call]


def _async_node(client: Any, ask: AskError) -> Any:
    kwargs = client.nodes_manager.connection_kwargs
    return redis.asyncio.cluster.ClusterNode(ask.host, ask.port, PRIMARY, **kwargs)


async def let_go(client: Any) -> None:
    """Closes the connections redis-py's asyncio cluster client opened to read the map:
    sesh sends nothing through them, and they belong to the loop that made them (closed
    later, an ``asyncio.run`` per job, they could no longer be closed)."""
    manager = client.nodes_manager
    for node in [*manager.nodes_cache.values(), *manager.startup_nodes.values()]:
        with contextlib.suppress(Exception):
            await node.disconnect()


class AsyncClusterLink:
    """Commands to a Redis Cluster, each to its slot's primary, auto-pipelined per node."""

    __slots__ = ("_client", "_links", "_moves")

    def __init__(self, client: Any) -> None:
        self._client = client
        self._links: dict[str, PipelinedLink] = {}
        self._moves = 0

    def _link(self, node: Any) -> PipelinedLink:
        link = self._links.get(node.name)
        if link is None:
            link = PipelinedLink(node.connection_class, dict(node.connection_kwargs))
            self._links[node.name] = link
        return link

    async def call(self, command: tuple[Any, ...]) -> Any:
        """The reply to ``command`` from the node that holds its key (see the module)."""
        client = self._client
        slot = client.keyslot(_key(command))
        asked = None
        for _ in range(REDIRECTS):
            try:
                node = _primary(client, slot) if asked is None else asked
                return await self._link(node).call(command, asking=asked is not None)
            except MovedError as moved:
                self._moves += 1
                if _refreshes_after(self._moves, client):
                    await self._refresh()
                else:
                    await client.nodes_manager.move_slot(moved)
                asked = None
            except AskError as ask:  # (as in ClusterLink)
                asked = client.get_node(host=ask.host, port=ask.port) or _async_node(client, ask)
            except StoreClosed:
                raise
            except _TOPOLOGY_ERRORS:
                await self._refresh()
                raise
        raise _too_many()

    async def _refresh(self) -> None:
        with contextlib.suppress(Exception):  # (as above)
            await self._client.nodes_manager.initialize()
        await let_go(self._client)

    async def aclose(self) -> None:
        links, self._links = list(self._links.values()), {}
        for link in links:
            await link.aclose()
