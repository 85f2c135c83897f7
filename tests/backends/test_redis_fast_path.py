"""sesh's own path to a single Redis (what ``from_url`` stores send through): replies never
go to the wrong call, lost connections fail every waiting call and are replaced, forked
children open their own, and TLS, ACL users and RESP3 still work."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import sesh
from sesh.backends.redis import AsyncRedisStore, RedisStore
from testbed.polling import until
from testbed.servers import RedisServer, free_port
from testbed.topologies import Cluster, SentinelGroup


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A server of the test's own: these tests pause, kill and count its connections."""
    started = RedisServer()
    started.start()
    yield started
    started.close()


def pause(server: RedisServer, ms: int) -> None:
    """Every client's commands wait ``ms`` milliseconds (CLIENT PAUSE ALL)."""
    with redis.Redis.from_url(server.url) as admin:
        admin.execute_command("CLIENT", "PAUSE", ms, "ALL")


def connections_received(admin: redis.Redis) -> int:
    return int(admin.info("stats")["total_connections_received"])


def test_a_callers_client_is_used_as_its_owner_made_it(server: RedisServer) -> None:
    # from_url takes sesh's own path; a store on the caller's client sends through it.
    client = redis.Redis.from_url(server.url)
    with RedisStore(client, ttl=60) as store:
        store.set("alice")
        assert store.client is client
        assert len(client.connection_pool._available_connections) == 1
    with RedisStore.from_url(server.url, ttl=60) as store:
        store.set("alice")
        assert store.client.connection_pool._connections == []  # it made none
    client.close()


def test_cancelled_and_timed_out_calls_never_shift_replies(server: RedisServer) -> None:
    # 200 tasks, each reading its own session over and over, while a third of the calls
    # are cancelled at random moments (before the write, with the reply in flight, after
    # it came): every call that returns has its own user's id, and the one connection
    # is never replaced.
    async def main() -> dict[str, int]:
        store = AsyncRedisStore.from_url(server.url, ttl=60, track_users=True)
        ids = [await store.set(f"user-{n}") for n in range(200)]
        admin = redis.Redis.from_url(server.url)
        before = connections_received(admin)
        seen = {"right": 0, "wrong": 0, "cancelled": 0}
        chance = random.Random(1)

        async def reader(n: int) -> None:
            for _ in range(30):
                call = asyncio.ensure_future(store.get(ids[n]))
                if chance.random() < 0.33:
                    for _ in range(chance.randrange(4)):
                        await asyncio.sleep(0)
                    call.cancel()
                try:
                    got = await call
                except asyncio.CancelledError:
                    seen["cancelled"] += 1
                    continue
                seen["right" if got == f"user-{n}" else "wrong"] += 1
                if chance.random() < 0.1:
                    try:
                        await asyncio.wait_for(store.sessions(f"user-{n}"), 0.0005)
                    except asyncio.TimeoutError:
                        seen["cancelled"] += 1

        await asyncio.gather(*(reader(n) for n in range(200)))
        assert [await store.get(session_id) for session_id in ids[:5]] == [
            f"user-{n}" for n in range(5)
        ]
        assert connections_received(admin) == before, "the connection was replaced"
        admin.close()
        await store.aclose()
        return seen

    seen = asyncio.run(main())
    assert seen["wrong"] == 0
    assert seen["cancelled"] > 500
    assert seen["right"] > 3000


def test_every_call_waiting_on_a_lost_connection_fails_then_the_store_reconnects(
    server: RedisServer,
) -> None:
    async def main() -> None:
        store = AsyncRedisStore.from_url(server.url, ttl=60)
        session_id = await store.set("alice")
        pause(server, 5000)
        calls = [asyncio.ensure_future(store.get(session_id)) for _ in range(50)]
        await asyncio.sleep(0.1)  # written, and waiting
        assert not any(call.done() for call in calls)
        server.kill()
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, sesh.BackendError) for r in results), results
        assert "Connection" in str(results[0])
        server.start(port=server.port)
        assert await store.get(await store.set("bob")) == "bob"  # no caller action
        await store.aclose()

    asyncio.run(main())


def test_a_stalled_redis_fails_waiting_async_calls_within_the_socket_timeout(
    server: RedisServer,
) -> None:
    async def main() -> None:
        store = AsyncRedisStore.from_url(server.url, ttl=60)
        session_id = await store.set("alice")
        pause(server, 2500)
        started = time.monotonic()
        results = await asyncio.gather(
            *(store.get(session_id) for _ in range(20)), return_exceptions=True
        )
        waited = time.monotonic() - started
        assert all(isinstance(r, sesh.BackendError) for r in results), results
        assert "Timeout" in str(results[0])
        assert 0.9 < waited < 1.8, "from_url's 1 s socket timeout"
        await asyncio.sleep(1.6)  # the pause ends
        assert await store.get(session_id) == "alice"
        await store.aclose()

    asyncio.run(main())


def test_threads_sharing_a_store_each_get_their_own_replies(server: RedisServer) -> None:
    admin = redis.Redis.from_url(server.url)
    before = connections_received(admin)
    store = RedisStore.from_url(server.url, ttl=60)
    ids = [store.set(f"user-{n}") for n in range(16)]
    wrong: list[str] = []

    def reader(n: int) -> None:
        for _ in range(300):
            got = store.get(ids[n])
            if got != f"user-{n}":
                wrong.append(f"{n}: {got}")

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert 1 <= connections_received(admin) - before <= 16  # one per thread at most
    admin.close()
    store.close()


def _forked(work: Any) -> int:
    """Runs ``work`` in a forked child; its exit status (0: it returned True)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        code = 1
        try:
            code = 0 if work() else 1
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() in a threaded process
def test_a_store_made_before_fork_never_shares_a_socket_with_its_child(
    server: RedisServer,
) -> None:
    # gunicorn's pre-fork model: the parent has used the store; parent and child then
    # read at once. A shared socket would interleave their replies.
    store = RedisStore.from_url(server.url, ttl=60)
    mine, childs = store.set("parent"), store.set("child")

    def child() -> bool:
        return all(store.get(childs) == "child" for _ in range(500))

    pid_done: list[int] = []
    thread = threading.Thread(target=lambda: pid_done.append(_forked(child)))
    thread.start()
    parent_ok = all(store.get(mine) == "parent" for _ in range(500))
    thread.join()
    assert pid_done == [0]
    assert parent_ok
    assert store.get(mine) == "parent"
    store.close()


def test_an_async_store_made_before_fork_never_shares_a_socket_with_its_child(
    server: RedisServer,
) -> None:
    store = AsyncRedisStore.from_url(server.url, ttl=60)
    loop = asyncio.new_event_loop()
    mine = loop.run_until_complete(store.set("parent"))
    childs = loop.run_until_complete(store.set("child"))

    def child() -> bool:
        async def reads() -> bool:
            got = await asyncio.gather(*(store.get(childs) for _ in range(300)))
            return set(got) == {"child"}

        return asyncio.run(reads())

    assert _forked(child) == 0

    async def reads() -> set[str | None]:
        return set(await asyncio.gather(*(store.get(mine) for _ in range(300))))

    assert loop.run_until_complete(reads()) == {"parent"}
    loop.run_until_complete(store.aclose())
    loop.close()


def _each_verb(store: Any) -> None:
    session_id = store.set("alice")
    assert store.get(session_id) == "alice"
    assert store.get(session_id, touch=True) == "alice"
    assert store.liv(session_id) is True
    new_id = store.rotate(session_id)
    assert new_id is not None
    assert store.get(session_id) is None
    assert store.sessions("alice") == [new_id]
    assert store.die_all("alice") == 1
    assert store.get(new_id) is None


async def _each_verb_async(store: Any) -> None:
    session_id = await store.set("alice")
    assert await store.get(session_id, touch=True) == "alice"
    assert await store.liv(session_id) is True
    new_id = await store.rotate(session_id)
    assert await store.sessions("alice") == [new_id]
    assert await store.die_all("alice") == 1


def _both(url: str) -> None:
    with RedisStore.from_url(url, ttl=60, track_users=True, max_age=120) as store:
        _each_verb(store)
    with RedisStore.from_url(url, ttl=60) as plain:
        assert plain.get(plain.set("bob")) == "bob"

    async def main() -> None:
        store = AsyncRedisStore.from_url(url, ttl=60, track_users=True)
        await _each_verb_async(store)
        await store.aclose()

    asyncio.run(main())


def test_resp3(server: RedisServer) -> None:
    _both(f"{server.url}?protocol=3")
    with redis.Redis.from_url(server.url) as admin:
        admin.config_resetstat()
        with RedisStore.from_url(f"{server.url}?protocol=3", ttl=60) as store:
            store.set("carol")
        assert "cmdstat_hello" in admin.info("commandstats")


def test_an_acl_user(server: RedisServer) -> None:
    with redis.Redis.from_url(server.url) as admin:
        admin.execute_command(
            "ACL", "SETUSER", "app", "on", ">s3cret-pw", "~*", "+@all", "-flushall"
        )
    url = f"redis://app:s3cret-pw@127.0.0.1:{server.port}/0"
    _both(url)
    wrong = f"redis://app:WRONG-pw-1@127.0.0.1:{server.port}/0"
    with pytest.raises(sesh.BackendError, match=r"(?i)auth|password") as caught:
        RedisStore.from_url(wrong).set("alice")
    assert "WRONG-pw-1" not in str(caught.value)
    with pytest.raises(sesh.BackendError, match=r"(?i)auth|password") as caught:
        asyncio.run(AsyncRedisStore.from_url(wrong).set("alice"))
    assert "WRONG-pw-1" not in str(caught.value)


def _certificates(directory: Path) -> Path:
    """A CA and a certificate for 127.0.0.1 it signed, made with openssl."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
            "-out", "ca.crt", "-days", "2", "-subj", "/CN=sesh test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=127.0.0.1")  # fmt: skip
    (directory / "san").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san")  # fmt: skip
    return directory


def test_tls(tmp_path: Path) -> None:
    certs = _certificates(tmp_path)
    tls_port = free_port()
    server = RedisServer(
        "--tls-port", str(tls_port), "--tls-cert-file", str(certs / "server.crt"),
        "--tls-key-file", str(certs / "server.key"), "--tls-ca-cert-file", str(certs / "ca.crt"),
        "--tls-auth-clients", "no",
    )  # fmt: skip
    server.start()
    try:
        url = f"rediss://127.0.0.1:{tls_port}/0?ssl_ca_certs={certs / 'ca.crt'}"
        _both(url)
        # and a certificate the client does not trust is refused
        untrusting = RedisStore.from_url(f"rediss://127.0.0.1:{tls_port}/0")
        with untrusting, pytest.raises(sesh.BackendError, match=r"(?i)certificate"):
            untrusting.set("alice")
    finally:
        server.close()


def connected(admin: redis.Redis) -> int:
    """Clients connected now, less the one asking."""
    return int(admin.info("clients")["connected_clients"]) - 1


def test_every_idle_connection_lost_in_a_restart_is_replaced_with_no_error(
    server: RedisServer,
) -> None:
    # Eight threads leave eight idle connections; Redis restarts; eight calls all succeed.
    store = RedisStore.from_url(server.url, ttl=60)
    session_id = store.set("alice")
    barrier = threading.Barrier(8)

    def hold() -> None:
        barrier.wait()
        store.get(session_id)

    threads = [threading.Thread(target=hold) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.kill()
    server.start(port=server.port)
    new_id = store.set("bob")
    assert [store.get(new_id) for _ in range(8)] == ["bob"] * 8
    store.close()


def test_closing_an_async_store_ends_every_call_and_leaves_no_connection(
    server: RedisServer,
) -> None:
    async def main() -> None:
        admin = redis.Redis.from_url(server.url)
        store = AsyncRedisStore.from_url(server.url, ttl=60)
        session_id = await store.set("alice")
        # calls waiting on a connection being made, and calls in flight, then aclose
        fresh = AsyncRedisStore.from_url(server.url, ttl=60)
        first = [asyncio.ensure_future(fresh.get(session_id)) for _ in range(5)]
        busy = [asyncio.ensure_future(store.get(session_id)) for _ in range(10)]
        await asyncio.sleep(0)
        await fresh.aclose()
        await store.aclose()
        results = await asyncio.wait_for(
            asyncio.gather(*first, *busy, return_exceptions=True), timeout=3
        )
        for result in results:
            assert result == "alice" or isinstance(result, sesh.BackendError), result
        assert until(lambda: connected(admin) == 0), "a connection outlived aclose"
        admin.close()

    asyncio.run(main())


def test_a_store_used_from_many_event_loops_keeps_no_connection_of_a_closed_one(
    server: RedisServer,
) -> None:
    store = AsyncRedisStore.from_url(server.url, ttl=60)
    session_id = asyncio.run(store.set("alice"))
    for _ in range(20):  # asyncio.run per job: a new loop each time
        assert asyncio.run(store.get(session_id)) == "alice"
    admin = redis.Redis.from_url(server.url)
    assert until(lambda: connected(admin) <= 2), connected(admin)
    asyncio.run(store.aclose())  # ends the last closed loop's connection too
    assert until(lambda: connected(admin) == 0), connected(admin)
    admin.close()


def test_cluster_and_sentinel_stores_take_the_fast_path(
    redis_sentinel: Any, redis_cluster: Any
) -> None:
    for url in (redis_cluster.url, redis_sentinel.url):
        with RedisStore.from_url(url, ttl=60) as store:
            assert store.get(store.set("alice")) == "alice"
            assert store._link is not None


def test_cluster_stores_follow_ask_and_moved_while_a_slot_migrates() -> None:
    # A session's slot moves to another primary: mid-migration its source answers ASK
    # (the key has gone), then, once the slot is the target's, MOVED. Sync and asyncio
    # stores, with slot maps from before the move, still read it.
    cluster = Cluster()
    cluster.start()
    try:
        store = RedisStore.from_url(cluster.url, ttl=60)
        astore = AsyncRedisStore.from_url(cluster.url, ttl=60)
        loop = asyncio.new_event_loop()
        session_id = store.set("alice")
        key = f"sesh:{session_id}"
        assert loop.run_until_complete(astore.get(session_id)) == "alice"  # maps loaded
        source = redis.Redis(port=cluster.primary_for(key).port)
        target = next(
            redis.Redis(port=node.port)
            for node in cluster.nodes[:3]
            if node.port != source.connection_pool.connection_kwargs["port"]
        )
        slot = source.execute_command("CLUSTER", "KEYSLOT", key)
        source_id = source.execute_command("CLUSTER", "MYID").decode()
        target_id = target.execute_command("CLUSTER", "MYID").decode()
        target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        port = target.connection_pool.connection_kwargs["port"]
        source.execute_command("MIGRATE", "127.0.0.1", port, "", 0, 5000, "KEYS", key)
        with pytest.raises(redis.exceptions.AskError):
            source.get(key)
        assert store.get(session_id) == "alice"  # ASKING, then GET, on the target
        assert loop.run_until_complete(astore.get(session_id)) == "alice"
        for node in (target, source):
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        with pytest.raises(redis.exceptions.MovedError):
            source.get(key)
        assert store.get(session_id) == "alice"  # MOVED: the map is patched
        assert loop.run_until_complete(astore.get(session_id)) == "alice"
        assert store.liv(session_id) is True
        assert loop.run_until_complete(astore.die(session_id)) is True
        loop.run_until_complete(astore.aclose())
        loop.close()
        store.close()
        source.close()
        target.close()
    finally:
        cluster.close()


def test_sentinel_stores_follow_a_failover_that_leaves_the_old_primary_up() -> None:
    # A failover that leaves the old primary up (a manual one, a partition): until it is
    # demoted it still takes writes. A connection opened once the sentinels name the new
    # primary goes there, and those from before must not be used again (a read on one would
    # miss what the new primary has). Once demoted, the old primary answers READONLY to a
    # write on a connection from before: taken as a lost connection, so no caller sees an
    # error and each write after it lands on the new primary.
    group = SentinelGroup()
    loop = asyncio.new_event_loop()
    try:
        group.start()
        store = RedisStore.from_url(group.url, ttl=60)
        astore = AsyncRedisStore.from_url(group.url, ttl=60)
        before = {store.set("alice"): "alice", loop.run_until_complete(astore.set("bob")): "bob"}
        old, new = group.primary.port, group.replica.port
        # The failover, at once: the replica promoted, and every sentinel made to watch it
        # (a real one names the new primary only once the failover ends).
        with redis.Redis(port=new) as server:
            server.execute_command("REPLICAOF", "NO", "ONE")
        for sentinel in group.sentinels:
            with redis.Redis(port=sentinel.port) as client:
                client.execute_command("SENTINEL", "REMOVE", group.SERVICE)
                client.execute_command("SENTINEL", "MONITOR", group.SERVICE, "127.0.0.1", new, 2)

        link = store._link
        stale = link._free.pop()  # (the store's one connection, as if in use)
        newer = link._take(link._generation)  # as a second thread's call would make it
        link._free[:] = [newer, stale]  # the one from before is next in line
        with RedisStore.from_url(group.url, ttl=60) as other:
            carol = other.set("carol")  # on the new primary
        assert store.get(carol) == "carol"
        with redis.Redis(port=old) as server:  # demoted, its clients' connections left open
            server.execute_command("REPLICAOF", "127.0.0.1", new)
        after = {store.set("dave"): "dave", loop.run_until_complete(astore.set("erin")): "erin"}
        with redis.Redis(port=new) as primary:
            for session_id, user in after.items():
                assert primary.get(f"sesh:{session_id}") == user.encode()
            for session_id, user in before.items():  # (copied before the promotion)
                assert primary.get(f"sesh:{session_id}") == user.encode()
        for session_id, user in after.items():
            assert store.get(session_id) == user
            assert loop.run_until_complete(astore.get(session_id)) == user
        store.close()
        loop.run_until_complete(astore.aclose())
    finally:
        loop.close()
        group.close()
