"""The resolver pool lends each in-flight request a resolver of its own."""

from __future__ import annotations

import itertools
import threading

from stratoflow_functions.api.resolvers import RequestScopedResolver, ResolverPool


def _pool() -> tuple[ResolverPool, list[RequestScopedResolver]]:
    built: list[RequestScopedResolver] = []

    def build() -> RequestScopedResolver:
        built.append(RequestScopedResolver())
        return built[-1]

    return ResolverPool(build), built


def test_overlapping_requests_never_share_a_resolver() -> None:
    pool, built = _pool()
    with pool.lease() as first, pool.lease() as second:
        assert first is not second
    assert len(built) == 2
    assert pool.size == 2


def test_resolvers_are_reused_once_given_back() -> None:
    pool, built = _pool()
    for _ in range(5):
        with pool.lease():
            pass
    assert len(built) == 1


def test_threads_in_flight_together_hold_distinct_resolvers() -> None:
    pool, _ = _pool()
    threads = 6
    barrier = threading.Barrier(threads)
    held: list[int] = []
    lock = threading.Lock()

    def serve() -> None:
        with pool.lease() as resolver:
            with lock:
                held.append(id(resolver))
            barrier.wait(timeout=10)  # every thread holds its lease at this point

    workers = [threading.Thread(target=serve) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert len(set(held)) == threads
    assert pool.size == threads


def test_the_event_belongs_to_the_resolver_serving_it() -> None:
    one, two = RequestScopedResolver(), RequestScopedResolver()
    seen: dict[str, str] = {}
    counter = itertools.count()

    @one.get("/who")
    def who_one() -> dict[str, str]:
        # while `one` serves, `two` serves a request of its own: `one` must still see its event
        two.resolve(_event("/who", "two"), None)
        seen["one"] = one.current_event.headers["x-caller"]
        return {"n": str(next(counter))}

    @two.get("/who")
    def who_two() -> dict[str, str]:
        seen["two"] = two.current_event.headers["x-caller"]
        return {"n": str(next(counter))}

    assert one.resolve(_event("/who", "one"), None)["statusCode"] == 200
    assert seen == {"one": "one", "two": "two"}


def _event(path: str, caller: str) -> dict[str, object]:
    from stratoflow_functions.local import http_api_event

    return http_api_event("GET", path, headers={"x-caller": caller})
