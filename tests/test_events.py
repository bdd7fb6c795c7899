"""Tests for realtime_sync.events.EventHandler."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, List, Optional

import pytest
from support_client import SignalingWaiters

from realtime_sync.events import EventHandler


def _instrument(handler: EventHandler) -> SignalingWaiters:
    waiters = SignalingWaiters()
    handler._waiters = waiters
    return waiters


def test_on_callbacks_run_in_order_then_on_next() -> None:
    handler = EventHandler()
    calls: List[str] = []
    handler.on("x", lambda e: calls.append("a"))
    handler.on_next("x", lambda e: calls.append("next"))
    handler.on("x", lambda e: calls.append("b"))
    handler.dispatch("x", {})
    handler.dispatch("x", {})
    assert calls == ["a", "b", "next", "a", "b"]


def test_on_as_decorator_returns_function_and_registers() -> None:
    handler = EventHandler()
    seen: List[Dict[str, Any]] = []

    @handler.on("evt")
    def record(event: Dict[str, Any]) -> None:
        seen.append(event)

    assert callable(record) and record.__name__ == "record"
    handler.dispatch("evt", {"n": 1})
    assert seen == [{"n": 1}]


def test_payload_is_passed_and_other_names_do_not_fire() -> None:
    handler = EventHandler()
    seen: List[Any] = []
    handler.on("a", seen.append)
    handler.dispatch("b", {"no": True})
    payload = {"yes": True}
    handler.dispatch("a", payload)
    assert seen == [payload] and seen[0] is payload


def test_off_removes_one_callback_and_unknown_raises() -> None:
    handler = EventHandler()
    calls: List[str] = []

    def first(event: Dict[str, Any]) -> None:
        calls.append("first")

    def second(event: Dict[str, Any]) -> None:
        calls.append("second")

    handler.on("x", first)
    handler.on("x", second)
    handler.off("x", first)
    handler.dispatch("x", {})
    assert calls == ["second"]
    with pytest.raises(ValueError):
        handler.off("x", first)
    with pytest.raises(ValueError):
        handler.off("never-registered", first)


def test_off_without_callback_removes_all_for_that_name() -> None:
    handler = EventHandler()
    calls: List[str] = []
    handler.on("x", lambda e: calls.append("x1"))
    handler.on("x", lambda e: calls.append("x2"))
    handler.on("y", lambda e: calls.append("y"))
    handler.off("x")
    handler.off("unknown")  # nothing registered: not an error
    handler.dispatch("x", {})
    handler.dispatch("y", {})
    assert calls == ["y"]


def test_off_bound_method_by_equality() -> None:
    class Listener:
        def __init__(self) -> None:
            self.count = 0

        def handle(self, event: Dict[str, Any]) -> None:
            self.count += 1

    handler = EventHandler()
    listener = Listener()
    handler.on("x", listener.handle)
    handler.off("x", listener.handle)  # a new bound-method object, equal to the first
    handler.dispatch("x", {})
    assert listener.count == 0


def test_on_next_fires_once_and_off_next() -> None:
    handler = EventHandler()
    calls: List[str] = []

    def once(event: Dict[str, Any]) -> None:
        calls.append("once")

    def removed(event: Dict[str, Any]) -> None:
        calls.append("removed")

    handler.on_next("x", once)
    handler.on_next("x", removed)
    handler.off_next("x", removed)
    with pytest.raises(ValueError):
        handler.off_next("x", removed)
    handler.dispatch("x", {})
    handler.dispatch("x", {})
    assert calls == ["once"]
    handler.on_next("x", once)
    handler.off_next("x")
    handler.dispatch("x", {})
    assert calls == ["once"]


def test_clear_event_handlers() -> None:
    handler = EventHandler()
    calls: List[str] = []
    handler.on("x", lambda e: calls.append("on"))
    handler.on_next("x", lambda e: calls.append("next"))
    handler.clear_event_handlers()
    handler.dispatch("x", {})
    assert calls == []


def test_bad_arguments_raise_type_error() -> None:
    handler = EventHandler()
    with pytest.raises(TypeError):
        handler.on("x", "not callable")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        handler.on(123, print)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        handler.on_next("x", None)  # type: ignore[arg-type]


def test_raising_callback_is_logged_and_others_run(caplog: pytest.LogCaptureFixture) -> None:
    handler = EventHandler()
    calls: List[str] = []

    def broken(event: Dict[str, Any]) -> None:
        raise RuntimeError("boom in callback")

    handler.on("x", broken)
    handler.on("x", lambda e: calls.append("after"))
    handler.on_next("x", broken)
    handler.on_next("x", lambda e: calls.append("next after"))
    with caplog.at_level(logging.ERROR, logger="realtime_sync.events"):
        handler.dispatch("x", {})
    assert calls == ["after", "next after"]
    records = [r for r in caplog.records if r.name == "realtime_sync.events"]
    assert len(records) == 2
    assert all(r.exc_info and "boom in callback" in str(r.exc_info[1]) for r in records)
    assert "Traceback" in caplog.text


def test_keyboard_interrupt_propagates() -> None:
    handler = EventHandler()
    calls: List[str] = []

    def interrupt(event: Dict[str, Any]) -> None:
        raise KeyboardInterrupt

    handler.on("x", interrupt)
    handler.on("x", lambda e: calls.append("not reached"))
    with pytest.raises(KeyboardInterrupt):
        handler.dispatch("x", {})
    assert calls == []
    # the handler is still usable and the thread is no longer marked as dispatching
    handler.off("x", interrupt)
    assert handler.wait_for_next("y", timeout=0.01) is None


def test_waiters_are_woken_even_when_a_callback_interrupts() -> None:
    handler = EventHandler()
    waiters = _instrument(handler)
    result: List[Optional[Dict[str, Any]]] = []
    thread = threading.Thread(target=lambda: result.append(handler.wait_for_next("x", 10.0)))
    thread.start()
    assert waiters.registered.acquire(timeout=5.0)

    def interrupt(event: Dict[str, Any]) -> None:
        raise KeyboardInterrupt

    handler.on("x", interrupt)
    with pytest.raises(KeyboardInterrupt):
        handler.dispatch("x", {"v": 1})
    thread.join(5.0)
    assert result == [{"v": 1}]


def test_callback_may_register_and_remove_during_dispatch() -> None:
    handler = EventHandler()
    calls: List[str] = []

    def self_removing(event: Dict[str, Any]) -> None:
        calls.append("self_removing")
        handler.off("x", self_removing)
        handler.on("x", lambda e: calls.append("added later"))

    handler.on("x", self_removing)
    handler.dispatch("x", {})
    assert calls == ["self_removing"]  # the list was copied before the calls
    handler.dispatch("x", {})
    assert calls == ["self_removing", "added later"]


def test_wait_for_next_woken_from_another_thread() -> None:
    handler = EventHandler()
    waiters = _instrument(handler)
    result: List[Optional[Dict[str, Any]]] = []
    woken_after: List[float] = []

    def wait() -> None:
        t0 = time.monotonic()
        result.append(handler.wait_for_next("ready", timeout=30.0))
        woken_after.append(time.monotonic() - t0)

    thread = threading.Thread(target=wait)
    thread.start()
    assert waiters.registered.acquire(timeout=5.0)
    handler.dispatch("other", {"n": 0})
    handler.dispatch("ready", {"n": 42})
    thread.join(5.0)
    assert result == [{"n": 42}]
    assert woken_after[0] < 5.0  # woken by the event, long before the timeout
    assert handler._waiters == {}


def test_wait_for_next_timeout_returns_none_and_leaves_nothing() -> None:
    handler = EventHandler()
    t0 = time.monotonic()
    assert handler.wait_for_next("never", timeout=0.05) is None
    assert 0.04 <= time.monotonic() - t0 < 5.0
    assert handler._waiters == {} and handler._next_handlers == {} and handler._handlers == {}


def test_wait_for_next_survives_clear_event_handlers() -> None:
    handler = EventHandler()
    waiters = _instrument(handler)
    result: List[Optional[Dict[str, Any]]] = []
    thread = threading.Thread(target=lambda: result.append(handler.wait_for_next("x", 10.0)))
    thread.start()
    assert waiters.registered.acquire(timeout=5.0)
    handler.clear_event_handlers()
    handler.off_next("x")
    handler.dispatch("x", {"still": "delivered"})
    thread.join(5.0)
    assert result == [{"still": "delivered"}]


def test_wait_for_next_from_dispatching_thread_raises() -> None:
    handler = EventHandler()
    errors: List[BaseException] = []

    def callback(event: Dict[str, Any]) -> None:
        try:
            handler.wait_for_next("other", timeout=1.0)
        except RuntimeError as exc:
            errors.append(exc)

    handler.on("x", callback)
    handler.dispatch("x", {})
    assert len(errors) == 1 and "inside a callback" in str(errors[0])
    # outside the dispatch the same thread may wait again
    assert handler.wait_for_next("other", timeout=0.01) is None


def test_concurrent_registration_and_dispatch() -> None:
    handler = EventHandler()
    counts: Dict[int, int] = {}
    lock = threading.Lock()
    errors: List[BaseException] = []

    def make(n: int) -> Any:
        def callback(event: Dict[str, Any]) -> None:
            with lock:
                counts[n] = counts.get(n, 0) + 1

        return callback

    callbacks = [make(n) for n in range(8)]

    def churn(cb: Any) -> None:
        try:
            for _ in range(300):
                handler.on("x", cb)
                handler.off("x", cb)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(cb,)) for cb in callbacks]
    for thread in threads:
        thread.start()
    for _ in range(300):
        handler.dispatch("x", {})
    for thread in threads:
        thread.join(10.0)
    assert not errors
    assert handler._handlers.get("x", ()) == ()


def test_many_waiters_all_woken_by_one_event() -> None:
    handler = EventHandler()
    waiters = _instrument(handler)
    results: List[Optional[Dict[str, Any]]] = []
    lock = threading.Lock()

    def wait() -> None:
        value = handler.wait_for_next("x", timeout=10.0)
        with lock:
            results.append(value)

    threads = [threading.Thread(target=wait) for _ in range(5)]
    for thread in threads:
        thread.start()
    for _ in threads:
        assert waiters.registered.acquire(timeout=5.0)
    handler.dispatch("x", {"v": 1})
    for thread in threads:
        thread.join(5.0)
    assert results == [{"v": 1}] * 5


def test_fail_waiters_wakes_only_waiters_with_that_tag() -> None:
    """The hook RealtimeAPI uses to end waits when its connection closes."""
    handler = EventHandler()
    tag = object()
    tagged_a = handler._add_waiter("a", tag=tag)
    tagged_b = handler._add_waiter("b", tag=tag)
    other = handler._add_waiter("a", tag=object())
    plain = handler._add_waiter("b")
    outcome: List[Any] = []

    def wait() -> None:
        try:
            outcome.append(handler._await_waiter("a", tagged_a, 30.0))
        except LookupError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    error = LookupError("gone")
    assert handler._fail_waiters(tag, error) == 2
    thread.join(5.0)
    assert outcome == [error]
    with pytest.raises(LookupError):
        handler._await_waiter("b", tagged_b, 0)
    assert handler._waiters == {"a": [other], "b": [plain]}
    handler.dispatch("a", {"n": 1})
    handler.dispatch("b", {"n": 2})
    assert handler._await_waiter("a", other, 0) == {"n": 1}
    assert handler._await_waiter("b", plain, 0) == {"n": 2}
    assert handler._fail_waiters(tag, error) == 0 and handler._waiters == {}
