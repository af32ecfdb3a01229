"""Real-time notifications of dispatch events: one compact JSON event per committed command.

    notifier = make_notifier(settings.redis_url)   # Redis pub/sub with a URL, else in-process
    attach(store, notifier.publish)                # dispatch/service.py emits after every commit
    with notifier.subscribe() as events:           # an iterator of event dicts (UI, tests, bridges)
        event = events.get(timeout=5)              # or: for event in events: ...
    notifier.listen(callback, stop_event)          # or a callback on a daemon thread

An event (`event_for`) names the order, its new version and state, the action, who did it and
when, the task changes and every task's state: enough for a department queue or the wall to
refresh one row or raise a toast without reading the store. `event_id` (`<order_id>@<version>`)
is unique per commit; a subscriber that joins late or misses one reads the order itself.

Listeners are attached per Store (not globally), so several runtimes in one process (tests) do
not hear each other. A failing listener is logged and never undoes or delays the command beyond
its own call. Nothing here imports Dash.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import weakref
from collections.abc import Callable, Iterator

from dispatch.isotime import iso

log = logging.getLogger(__name__)

CHANNEL = "citybrain:dispatch"
_listeners: "weakref.WeakKeyDictionary[object, list[Callable[[dict], None]]]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def event_departments(order, events) -> list[str]:
    """Departments an event concerns: those of its task changes; for order-wide actions every
    department with a task that was not handed over (reassigned)."""
    departments = [e.department for e in events if e.department]
    if any(not e.department for e in events):
        departments += [t.department for t in order.tasks if t.state != "reassigned"]
    return list(dict.fromkeys(departments))


def event_for(order, events, actor, action: str, origin: str, at: dt.datetime) -> dict:
    """The compact event of one committed command on `order` (a dispatch.states.Order, after)."""
    return {
        "type": f"dispatch.{action}",
        "event_id": f"{order.order_id}@{order.version}",
        "order_id": order.order_id,
        "version": order.version,
        "state": order.state,
        "title": order.title,
        "priority": order.priority,
        "lead_department": order.lead_department,
        "at": iso(at),
        "actor": actor.name,
        "role": actor.role,
        "origin": origin,
        "departments": event_departments(order, events),
        "changes": [
            {"action": e.action, "department": e.department or None, "from": e.from_state, "to": e.to_state,
             "order_from": e.order_from, "order_to": e.order_to, **({"note": e.note} if e.note else {}),
             **{k: iso(v) if isinstance(v, dt.datetime) else v for k, v in e.detail.items()}}
            for e in events
        ],
        "tasks": [
            {"department": t.department, "role": t.task_role, "state": t.state, "due_at": iso(t.due_at),
             "escalation_level": t.escalation_level}
            for t in order.tasks
        ],
    }


# ---------------------------------------------------------------------------- per-store listeners


def attach(store, listener: Callable[[dict], None]) -> None:
    """Call `listener(event)` after every dispatch command committed on `store`."""
    with _lock:
        _listeners.setdefault(store, []).append(listener)


def detach(store, listener: Callable[[dict], None]) -> None:
    with _lock:
        listeners = _listeners.get(store, [])
        if listener in listeners:
            listeners.remove(listener)


def emit(store, event: dict) -> None:
    """Hand `event` to the store's listeners; errors are logged, never raised to the writer."""
    with _lock:
        listeners = list(_listeners.get(store, ()))
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            log.exception("dispatch event listener %r failed for %s", listener, event.get("event_id"))


# ---------------------------------------------------------------------------- publishers


class Subscription:
    """An iterator of events; `get(timeout)` returns None when nothing came in time."""

    def get(self, timeout: float | None = None) -> dict | None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[dict]:
        while True:
            event = self.get(timeout=None)
            if event is not None:
                yield event

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Notifier:
    """publish(event) on the writer's side; subscribe() / listen() on the readers' side."""

    def publish(self, event: dict) -> None:
        raise NotImplementedError

    def subscribe(self) -> Subscription:
        raise NotImplementedError

    def listen(self, callback: Callable[[dict], None], stop: threading.Event, poll_s: float = 0.5) -> threading.Thread:
        """Call `callback(event)` for each event on a daemon thread until `stop` is set."""
        subscription = self.subscribe()  # subscribed before returning: no event published after this is missed

        def run() -> None:
            with subscription:
                while not stop.is_set():
                    try:
                        event = subscription.get(timeout=poll_s)
                    except Exception:
                        log.exception("dispatch subscription failed; retrying")
                        stop.wait(poll_s)
                        continue
                    if event is None:
                        continue
                    try:
                        callback(event)
                    except Exception:
                        log.exception("dispatch event callback failed")

        thread = threading.Thread(target=run, name="dispatch-listen", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        pass


class _QueueSubscription(Subscription):
    def __init__(self, owner: "InProcessNotifier", maxsize: int):
        self._owner = owner
        self.queue: queue.Queue[dict] = queue.Queue(maxsize)
        self.dropped = 0  # events lost because this subscriber did not keep up

    def get(self, timeout: float | None = None) -> dict | None:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._owner._remove(self)


class InProcessNotifier(Notifier):
    """The embedded default: each subscriber has its own bounded queue (a slow one loses events,
    counted in `dropped`, and never slows the publisher)."""

    def __init__(self, maxsize: int = 1000):
        self.maxsize = maxsize
        self._subscribers: list[_QueueSubscription] = []
        self._lock = threading.Lock()

    def publish(self, event: dict) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            try:
                sub.queue.put_nowait(event)
            except queue.Full:
                sub.dropped += 1

    def subscribe(self) -> Subscription:
        sub = _QueueSubscription(self, self.maxsize)
        with self._lock:
            self._subscribers.append(sub)
        return sub

    def _remove(self, sub: _QueueSubscription) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)


class _RedisSubscription(Subscription):
    def __init__(self, client, channel: str):
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(channel)
        # Wait for the server's confirmation, so an event published right after subscribe() is heard.
        self._pubsub.get_message(timeout=1.0)

    def get(self, timeout: float | None = None) -> dict | None:
        if timeout is None:
            while True:
                event = self.get(timeout=1.0)
                if event is not None:
                    return event
        message = self._pubsub.get_message(timeout=timeout)
        if not message or message.get("type") != "message":
            return None
        try:
            return json.loads(message["data"])
        except (ValueError, TypeError):
            log.warning("ignoring a malformed message on %s", CHANNEL)
            return None

    def close(self) -> None:
        self._pubsub.close()


class RedisNotifier(Notifier):
    """Redis pub/sub on CHANNEL: consoles and bridges in other processes hear the events too.

    Publishing uses short socket timeouts, so a Redis outage delays a command by at most about a
    second (the event is then lost for live listeners; the order itself is committed).
    """

    def __init__(self, url: str, channel: str = CHANNEL, timeout_s: float = 1.0):
        import redis

        self.url, self.channel = url, channel
        self._publisher = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
        self._subscriber = redis.Redis.from_url(url, socket_connect_timeout=5)

    def publish(self, event: dict) -> None:
        self._publisher.publish(self.channel, json.dumps(event, ensure_ascii=False, separators=(",", ":")))

    def subscribe(self) -> Subscription:
        return _RedisSubscription(self._subscriber, self.channel)

    def close(self) -> None:
        self._publisher.close()
        self._subscriber.close()


def make_notifier(redis_url: str | None = None) -> Notifier:
    """RedisNotifier with a Redis URL, else InProcessNotifier."""
    return RedisNotifier(redis_url) if redis_url else InProcessNotifier()
