"""The conformance kit passes a correct store and fails each deliberately broken one."""

from __future__ import annotations

import pytest

# Imported here, so that each in-process kit run below reuses these modules and
# hypothesis's character tables instead of importing and building them again.
import sesh.testing  # noqa: F401
from testbed.broken_stores import BROKEN

KIT_RUN = """
import functools

import pytest
from hypothesis import Phase, settings

from testbed.broken_stores import {name} as Store, DictStore
from sesh.testing import {kit}, FakeClock, CAPABILITIES


@pytest.fixture(autouse={no_shrinking}, scope="module")
def _no_shrinking():
    # A failure is all this run needs to see; shrinking it to the smallest case is slow.
    previous = settings.get_current_profile_name()
    settings.register_profile("find-only", phases=[Phase.explicit, Phase.generate])
    settings.load_profile("find-only")
    yield
    settings.load_profile(previous)


class Async:
    def __init__(self, store):
        self.store = store

    async def set(self, user_id):
        return self.store.set(user_id)

    async def get(self, session_id, *, touch=False):
        return self.store.get(session_id, touch=touch)

    async def liv(self, session_id):
        return self.store.liv(session_id)

    async def die(self, session_id):
        return self.store.die(session_id)

    def handle(self, session_id):
        return self.store.handle(session_id)

    async def rotate(self, session_id):
        return self.store.rotate(session_id)

    async def sessions(self, user_id):
        return self.store.sessions(user_id)

    async def die_all(self, user_id):
        return self.store.die_all(user_id)

    async def aclose(self):
        pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        pass

    def __repr__(self):
        return repr(self.store)


class TestKit({kit}):
    hypothesis_examples = {examples}
    capabilities = CAPABILITIES

    @functools.cached_property
    def clock(self):
        return FakeClock()

    def pass_time(self, seconds):
        self.clock.advance(seconds)

    def make_store(self, *, prefix, ttl, **options):
        store = Store(prefix, ttl, self.clock, **options)
        return Async(store) if {is_async} else store

    def dump(self, store):
        return getattr(store, "store", store).dump()
"""


def run_kit(
    pytester: pytest.Pytester,
    name: str,
    is_async: bool = False,
    only: str = "",
    shrink: bool = False,
) -> tuple[list[str], list[str]]:
    """Runs the kit (or its check named ``only``, with every parameter) on the store class
    ``name``; returns the failed and the skipped checks (with params)."""
    failed, skipped = kit_reports(pytester, name, is_async, only, shrink)
    names = [sorted(report.nodeid.split("::")[-1] for report in run) for run in (failed, skipped)]
    return names[0], names[1]


def kit_reports(
    pytester: pytest.Pytester,
    name: str,
    is_async: bool,
    only: str,
    shrink: bool,
    examples: int = 25,
) -> tuple[list[pytest.TestReport], list[pytest.TestReport]]:
    kit = "AsyncSessionStoreConformance" if is_async else "SessionStoreConformance"
    source = KIT_RUN.format(
        name=name, kit=kit, is_async=is_async, no_shrinking=not shrink, examples=examples
    )
    pytester.makepyfile(test_kit=source)
    select = ["-k", only.partition("[")[0]] if only else []
    recorder = pytester.inline_run("-q", "-p", "no:cacheprovider", "-W", "ignore", *select)
    passed, skipped, failed = recorder.listoutcomes()
    assert passed or failed, "the kit ran no check"
    return list(failed), list(skipped)  # type: ignore[arg-type]


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_correct_store_passes_every_check(pytester: pytest.Pytester, is_async: bool) -> None:
    assert run_kit(pytester, "DictStore", is_async) == ([], [])


@pytest.mark.parametrize("flaw", sorted(BROKEN))
def test_a_broken_store_fails(pytester: pytest.Pytester, flaw: str) -> None:
    # Only the check named for the flaw: the correct store above passes all the others.
    store_class, check = BROKEN[flaw]
    failed, _ = run_kit(pytester, store_class.__name__, only=check)
    assert check in failed, f"the kit missed a store whose flaw is: {flaw}"


def test_the_async_kit_fails_a_broken_store(pytester: pytest.Pytester) -> None:
    check = "test_refresh_resets_expiry_to_the_full_ttl[liv]"
    failed, _ = run_kit(pytester, "LivAdds", is_async=True, only=check)
    assert check in failed


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_failing_store_sees_its_smallest_failing_sequence(
    pytester: pytest.Pytester, is_async: bool
) -> None:
    # The model check, shrinking as a store author's run does, on a store that answers for
    # some ids it never made: hypothesis must replay and shrink the failure, not report it
    # as flaky, which it does when a strategy draws randomness of its own (as unknown ids
    # from secrets did).
    model = "test_agrees_with_a_model"
    store = "AnswersSomeUnknownIds"
    failed, _ = kit_reports(pytester, store, is_async, model, shrink=True, examples=1000)
    (report,) = failed
    text = str(report.longrepr)
    assert "Flaky" not in text, text[-3000:]
    # shrunk to one step, on the simplest id (32 zero bytes)
    assert "state.get(session_id='AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='" in text, text[
        -3000:
    ]
