"""The node's own account of the subscriptions it has seen (`GET /api/subscriptions`): which it tracks, which it
will not serve and why, and how each interval ended (delivered with tx, block and gas; or the last error).

In memory and bounded: the newest `MAX_SUBSCRIPTIONS` subscriptions, the newest `MAX_INTERVALS` intervals of each.
It is written where the decision is taken (listener, processor) and read by the API; `on_change` hears of
every new state of a view (the node's event feed, `node.events`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from infernet_kit.chain.encoding import Subscription
from infernet_kit.node.chain.store import DeliveryStatus

MAX_SUBSCRIPTIONS = 1000
MAX_INTERVALS = 64

SubscriptionStatus = Literal["tracked", "skipped", "finished", "cancelled"]


class IntervalReport(BaseModel):
    """One interval as this node handled it: `error` is the last failure (also while still retrying)."""

    interval: int
    status: DeliveryStatus
    tx_hash: str | None = None
    block: int | None = None
    gas_used: int | None = None
    error: str | None = None


class SubscriptionView(BaseModel):
    """A subscription as this node sees it; `reason` says why it is skipped."""

    id: int
    status: SubscriptionStatus
    reason: str | None = None
    owner: str
    container_id: str = Field(description="0x-hex keccak256(abi.encode(string)) of the comma-joined container ids")
    containers: list[str] | None = None
    frequency: int
    period: int
    redundancy: int
    request_tx: str | None = Field(default=None, description="The transaction that created it, when this node saw it")
    request_block: int | None = None
    deliveries: dict[str, int] = Field(
        default_factory=dict, description="Deliveries mined per node address (any node), since this node saw it"
    )
    intervals: list[IntervalReport] = Field(default_factory=list)

    def rendered_later(self) -> Callable[[], dict[str, Any]]:
        """This view's JSON as it is now, made only when called (an event's data is made when first read; the
        view's list and dict change in place meanwhile, its intervals are replaced, never changed)."""
        state = {**self.__dict__, "intervals": list(self.intervals), "deliveries": dict(self.deliveries)}
        return lambda: SubscriptionView.model_construct(**state).model_dump(mode="json")


class SubscriptionReport:
    """Views of subscriptions by id; beyond `MAX_SUBSCRIPTIONS` the one learned first is dropped."""

    def __init__(self, on_change: Callable[[SubscriptionView], None] | None = None) -> None:
        self._views: OrderedDict[int, SubscriptionView] = OrderedDict()
        self._early: dict[int, list[IntervalReport]] = {}  # intervals of subscriptions not seen yet
        self._on_change = on_change

    def _changed(self, view: SubscriptionView) -> None:
        if self._on_change is not None:
            self._on_change(view)

    def seen(self, sub_id: int, sub: Subscription, *, containers: list[str] | None, reason: str | None = None) -> None:
        """A subscription learned: tracked (reason None) or skipped with `reason`."""
        previous = self._views.get(sub_id)
        self._views[sub_id] = SubscriptionView(
            id=sub_id,
            status="tracked" if reason is None else "skipped",
            reason=reason,
            owner=sub.owner,
            container_id="0x" + sub.container_id.hex(),
            containers=containers,
            frequency=sub.frequency,
            period=sub.period,
            redundancy=sub.redundancy,
            intervals=previous.intervals if previous else self._early.pop(sub_id, []),
            request_tx=previous.request_tx if previous else None,
            request_block=previous.request_block if previous else None,
            deliveries=previous.deliveries if previous else {},
        )
        self._views.move_to_end(sub_id)
        while len(self._views) > MAX_SUBSCRIPTIONS:
            self._views.popitem(last=False)
        self._changed(self._views[sub_id])

    def ended(self, sub_id: int, status: Literal["finished", "cancelled"]) -> None:
        """A tracked subscription needs nothing more from this node."""
        if (view := self._views.get(sub_id)) is not None and view.status == "tracked":
            view.status = status
            self._changed(view)

    def requested(self, sub_id: int, tx_hash: str, block: int) -> None:
        """The transaction that created a subscription this node has seen (its `SubscriptionCreated` log)."""
        if (view := self._views.get(sub_id)) is not None:
            view.request_tx, view.request_block = tx_hash, block
            self._changed(view)

    def fulfilled(self, sub_id: int, node: str) -> None:
        """A delivery mined for a subscription this node has seen, by any node (its `SubscriptionFulfilled` log)."""
        if (view := self._views.get(sub_id)) is not None:
            view.deliveries[node] = view.deliveries.get(node, 0) + 1
            self._changed(view)

    def interval(self, sub_id: int, report: IntervalReport) -> None:
        """Record the newest state of one interval (replacing the previous one of the same interval)."""
        view = self._views.get(sub_id)
        if view is None:
            # Delivered before the listener learned the subscription (a delegated one's first interval).
            early = self._early.pop(sub_id, [])  # re-inserted: the newest is evicted last
            _merge(early, report)
            self._early[sub_id] = early
            while len(self._early) > MAX_SUBSCRIPTIONS:
                self._early.pop(next(iter(self._early)))
            return
        _merge(view.intervals, report)
        self._changed(view)

    def get(self, ids: list[int] | None = None) -> list[SubscriptionView]:
        """The views of `ids` this node has seen (all, newest last, when None)."""
        if ids is None:
            return list(self._views.values())
        return [self._views[i] for i in ids if i in self._views]

    def clear(self) -> None:
        self._views.clear()
        self._early.clear()


def _merge(intervals: list[IntervalReport], report: IntervalReport) -> None:
    """Put `report` into `intervals` in place, replacing the one of the same interval, oldest first, the newest
    `MAX_INTERVALS` kept. Most reports are of the newest interval (each delivery reports three states): those
    cost no copy or sort."""
    newest = intervals[-1].interval if intervals else 0
    if intervals and report.interval == newest:
        intervals[-1] = report
    elif report.interval > newest:
        intervals.append(report)
        if len(intervals) > MAX_INTERVALS:
            del intervals[0]
    else:
        kept = [item for item in intervals if item.interval != report.interval]
        intervals[:] = sorted([*kept, report], key=lambda item: item.interval)[-MAX_INTERVALS:]
