"""The health checker: runs probes in the background and publishes immutable health views.

Scheduling. Every distinct probe gets one asyncio task. The task sleeps a random jitter in
[0, interval) so checks loaded together do not probe in lockstep, then probes, applies the
result, and sleeps until the next slot of a fixed monotonic schedule (start + k * interval).
Probes of one task never overlap: a probe that outlasts its interval starts the next one
immediately and the schedule restarts from then (no catch-up burst). Every probe is bounded
by its timeouts, so a hanging target delays only its own task; a probe that raises is an
unhealthy result named after the exception, and the task goes on. Nothing here runs on the
query path: queries read `view()`, a snapshot replaced atomically on every state change.

Dedup rule. Checks whose specs are equal in everything that shapes the probe and its
timing -- type, target, port, path, host, search, timeout, interval -- share one task and
one probe per interval, whatever their ids. Each id still applies its own
failure_threshold and invert to the shared result, so two ids differing only in those keys
still probe once. Calculated checks have no probe: they are recomputed, children before
parents, whenever a child changes.

Reload (`update`). An id whose spec is unchanged keeps its state; a probe whose key is
unchanged keeps its task and therefore its schedule. Removed probes' tasks are cancelled
(and awaited); new ones start with fresh jitter; changed ids start over as new checks.

Overrides (`set_override`). An operator may force an id healthy or unhealthy. Probing goes
on underneath (its `status`/`reason` stay truthful); the snapshot and calculated parents
see the forced state. An override lasts across reloads while its id exists, changed spec
or not, and is dropped (logged) with the id.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import NamedTuple

import aiohttp

from healthcheck import probes
from healthcheck.override import Override, describe
from healthcheck.spec import CheckSpec
from healthcheck.state import CheckState, HealthSnapshot, calculated_health, status_name

log = logging.getLogger("policydns.health")
DISABLED = "disabled: not probed, counted healthy"

OnChange = Callable[[str, bool, bool, str], None]
_Change = tuple[str, bool, bool, str]  # check id, old healthy, new healthy, reason
RECENT = 200  # state changes and overrides kept for the status page


class Change(NamedTuple):
    """One entry of `recent()`: a state change (healthy/unhealthy) or an override (none too)."""

    at: float
    check: str
    old: str
    new: str
    reason: str


class ProbeKey(NamedTuple):
    """What makes two checks the same probe (see the dedup rule above)."""

    type: str
    target: str | None
    port: int | None
    path: str
    host: str | None
    search: str | None
    timeout: float
    interval: float

    @classmethod
    def of(cls, spec: CheckSpec) -> ProbeKey:
        return cls(
            spec.type,
            spec.target,
            spec.port,
            spec.path,
            spec.host,
            spec.search,
            spec.timeout,
            spec.interval,
        )


@dataclasses.dataclass(slots=True)
class _Probe:
    spec: CheckSpec  # any one of the grouped specs; only ProbeKey fields are used
    ids: tuple[str, ...]
    task: asyncio.Task[None] | None = None


class HealthChecker:
    """Probes the configured checks and publishes their state.

    Knows nothing about DNS: it is given check id -> CheckSpec and publishes a
    `HealthSnapshot` (via `view()`), per-check `CheckState` copies (via `states()`), a
    `version` that grows on every published change, and `on_change(id, old, new, reason)`.
    """

    def __init__(self, specs: Mapping[str, CheckSpec], on_change: OnChange | None = None) -> None:
        self._on_change = on_change
        self._specs: dict[str, CheckSpec] = {}
        self._states: dict[str, CheckState] = {}
        self._probes: dict[ProbeKey, _Probe] = {}
        self._parents: dict[str, list[str]] = {}
        self._calc_order: list[str] = []
        self._session: aiohttp.ClientSession | None = None
        self._running = False
        self._version = 0
        self._changed = asyncio.Event()
        self._recent: deque[Change] = deque(maxlen=RECENT)
        self._load(specs)
        self._view = HealthSnapshot(self._health_map(), self._version)

    # -- public API ------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the shared HTTP session and start one task per distinct probe."""
        if self._running:
            return
        self._running = True
        self._session = probes.new_session()
        for key, probe in self._probes.items():
            self._start_task(key, probe)

    async def stop(self) -> None:
        """Cancel every probe task, wait for them, and close the session."""
        self._running = False
        tasks = [p.task for p in self._probes.values() if p.task is not None]
        for probe in self._probes.values():
            probe.task = None
        await _cancel(tasks)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def update(self, specs: Mapping[str, CheckSpec]) -> None:
        """Reload: keep unchanged checks' state and schedule, stop removed, start new."""
        old_probes = self._probes
        changed = self._load(specs)
        stale = []
        for key, probe in old_probes.items():
            if key in self._probes:
                self._probes[key].task = probe.task
            elif probe.task is not None:
                stale.append(probe.task)
        if self._running:
            for key, probe in self._probes.items():
                if probe.task is None:
                    self._start_task(key, probe)
        self._publish_if_changed()
        for change in changed:
            self._report(*change)
        await _cancel(stale)

    def view(self) -> HealthSnapshot:
        """The current immutable snapshot; hold it for as long as one answer needs it."""
        return self._view

    def states(self) -> dict[str, CheckState]:
        """A copy of every check's state, for the HTTP API and `explain`."""
        return {cid: dataclasses.replace(state) for cid, state in self._states.items()}

    def recent(self) -> list[Change]:
        """The latest state changes and overrides, oldest first (at most RECENT)."""
        return list(self._recent)

    def set_override(self, check_id: str, state: bool | None, who: str) -> bool:
        """Force `check_id` healthy (True) or unhealthy (False), or clear (None).

        Takes effect in the published snapshot at once; calculated ancestors follow.
        Returns False for an unknown id.
        """
        check = self._states.get(check_id)
        if check is None:
            return False
        now = time.time()
        old_override, old = check.override, check.effective
        check.override = None if state is None else Override(state, who, now)
        log.warning("health check %s: override %s by %s", check_id, describe(state), who)
        previous = None if old_override is None else old_override.state
        self._recent.append(
            Change(now, check_id, describe(previous), describe(state), f"override by {who}")
        )
        if check.effective == old:
            return True
        changed = self._recompute_ancestors([check_id], now)
        self._publish_if_changed()
        self._notify(check_id, old, check.effective, f"override by {who}")
        for change in changed:
            self._report(*change)
        return True

    @property
    def version(self) -> int:
        """Grows by one on every published change (state flips and reloads that alter health)."""
        return self._version

    async def wait_changed(self, after: int) -> int:
        """Wait until `version` exceeds `after`; return the new version."""
        while self._version <= after:
            await self._changed.wait()
        return self._version

    # -- loading ---------------------------------------------------------------------------

    def _load(self, specs: Mapping[str, CheckSpec]) -> list[_Change]:
        """Install a new set of specs, keeping the state of ids whose spec is unchanged.

        Returns the changes of kept calculated checks whose children changed; new checks
        take their initial state silently.
        """
        now = time.time()
        old_specs, old_states = self._specs, self._states
        self._specs = dict(specs)
        self._states = {}
        grouped: dict[ProbeKey, list[str]] = {}
        for cid in old_states.keys() - self._specs.keys():
            if old_states[cid].override is not None:
                log.warning("health check %s: removed, its override dropped", cid)
        for cid, spec in self._specs.items():
            if old_specs.get(cid) == spec:
                self._states[cid] = old_states[cid]
            elif spec.disabled:
                self._states[cid] = CheckState.new(now)
                self._states[cid].reason = DISABLED
            else:
                self._states[cid] = CheckState.new(now, invert=spec.invert)
            if cid in old_states:
                self._states[cid].override = old_states[cid].override
            if spec.type != "calculated" and not spec.disabled:
                grouped.setdefault(ProbeKey.of(spec), []).append(cid)
        self._probes = {
            key: _Probe(self._specs[ids[0]], tuple(ids)) for key, ids in grouped.items()
        }
        self._parents = {}
        for cid, spec in self._specs.items():
            for child in spec.children:
                self._parents.setdefault(child, []).append(cid)
        self._calc_order = _children_first(self._specs)
        changed: list[_Change] = []
        for cid in self._calc_order:
            healthy, reason = self._evaluate(cid)
            state = self._states[cid]
            old = state.healthy
            fresh = old_specs.get(cid) != self._specs[cid]
            if state.set(healthy, reason, now) and not fresh:
                changed.append((cid, old, healthy, reason))
        return changed

    # -- probing ---------------------------------------------------------------------------

    def _start_task(self, key: ProbeKey, probe: _Probe) -> None:
        probe.task = asyncio.create_task(self._run(key), name=f"health probe {key.target}")

    async def _run(self, key: ProbeKey) -> None:
        """Probe on a fixed schedule after an initial jitter; never dies of a probe error."""
        loop = asyncio.get_running_loop()
        interval = key.interval
        await asyncio.sleep(random.uniform(0, interval))
        due = loop.time()
        while True:
            probe = self._probes.get(key)
            if probe is None:  # removed by a reload while this task was running
                return
            try:
                ok, reason = await self._probe(probe.spec)
            except Exception as exc:
                ok, reason = False, type(exc).__name__
            self._record(key, ok, reason)
            due += interval
            now = loop.time()
            if due < now:
                due = now
            await asyncio.sleep(due - now)

    async def _probe(self, spec: CheckSpec) -> tuple[bool, str]:
        if spec.type == "tcp":
            return await probes.tcp(spec)
        if self._session is None:
            raise RuntimeError("checker not started")
        return await probes.http(self._session, spec)

    def _record(self, key: ProbeKey, ok: bool, reason: str) -> None:
        """Apply one probe result to every id sharing it, then to calculated ancestors."""
        probe = self._probes.get(key)
        if probe is None:
            return
        now = time.time()
        changed: list[_Change] = []
        for cid in probe.ids:
            spec, state = self._specs[cid], self._states[cid]
            old = state.healthy
            if state.apply(
                ok,
                reason,
                failure_threshold=spec.failure_threshold,
                invert=spec.invert,
                now=now,
            ):
                changed.append((cid, old, state.healthy, state.reason))
        if not changed:
            return
        changed += self._recompute_ancestors([cid for cid, *_ in changed], now)
        self._publish_if_changed()
        for change in changed:
            self._report(*change)

    # -- calculated checks -----------------------------------------------------------------

    def _evaluate(self, cid: str) -> tuple[bool, str]:
        spec = self._specs[cid]
        if spec.disabled:
            return True, DISABLED
        children = (self._states[c].effective if c in self._states else True for c in spec.children)
        return calculated_health(spec.healthy_threshold, children, spec.invert)

    def _recompute_ancestors(self, ids: Iterable[str], now: float) -> list[_Change]:
        """Re-evaluate the calculated checks above `ids`, children first; what changed."""
        changed: list[_Change] = []
        dirty = self._ancestors(ids)
        for cid in self._calc_order:
            if cid in dirty:
                healthy, why = self._evaluate(cid)
                state = self._states[cid]
                old = state.healthy
                if state.set(healthy, why, now):
                    changed.append((cid, old, healthy, why))
        return changed

    def _ancestors(self, ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        todo = list(ids)
        while todo:
            for parent in self._parents.get(todo.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    todo.append(parent)
        return found

    # -- publishing ------------------------------------------------------------------------

    def _health_map(self) -> dict[str, bool]:
        return {cid: state.effective for cid, state in self._states.items()}

    def _publish_if_changed(self) -> None:
        """Swap in a new snapshot (one reference assignment: atomic for readers)."""
        health = self._health_map()
        if health == dict(self._view.states):
            return
        self._version += 1
        self._view = HealthSnapshot(health, self._version)
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    def _report(self, cid: str, old: bool, new: bool, reason: str) -> None:
        level = logging.INFO if new else logging.WARNING
        log.log(
            level,
            "health check %s: %s -> %s (%s)",
            cid,
            status_name(old),
            status_name(new),
            reason,
        )
        self._recent.append(Change(time.time(), cid, status_name(old), status_name(new), reason))
        self._notify(cid, old, new, reason)

    def _notify(self, cid: str, old: bool, new: bool, reason: str) -> None:
        if self._on_change is not None:
            try:
                self._on_change(cid, old, new, reason)
            except Exception:
                log.exception("health check %s: on_change callback failed", cid)


def _children_first(specs: Mapping[str, CheckSpec]) -> list[str]:
    """Calculated check ids, each after every calculated check it depends on."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(cid: str) -> None:
        seen.add(cid)
        for child in specs[cid].children:
            if child in specs and child not in seen:
                visit(child)
        if specs[cid].type == "calculated":
            order.append(cid)

    for cid in specs:
        if cid not in seen:
            visit(cid)
    return order


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
