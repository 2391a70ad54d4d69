"""The node's subscription report stays bounded however many subscriptions and intervals the chain holds, and
keeps the newest state of each interval."""

from __future__ import annotations

from infernet_kit.chain.encoding import ZERO_ADDRESS, Subscription, container_id
from infernet_kit.node.chain.report import MAX_INTERVALS, MAX_SUBSCRIPTIONS, IntervalReport, SubscriptionReport
from infernet_kit.node.chain.store import DeliveryStatus
from infernet_kit.node.events import EventFeed

OWNER = "0x" + "ab" * 20


def subscription() -> Subscription:
    return Subscription(
        owner=OWNER,
        active_at=1,
        period=10,
        frequency=2**32 - 1,
        redundancy=1,
        container_id=container_id("echo"),
        lazy=False,
        verifier=ZERO_ADDRESS,
        payment_amount=0,
        payment_token=ZERO_ADDRESS,
        wallet=ZERO_ADDRESS,
    )


def test_the_oldest_subscriptions_and_intervals_are_dropped_first() -> None:
    report = SubscriptionReport()
    for sub_id in range(1, MAX_SUBSCRIPTIONS + 11):
        report.seen(sub_id, subscription(), containers=None, reason=f"not for this node ({sub_id})")
    views = report.get()
    assert len(views) == MAX_SUBSCRIPTIONS and views[0].id == 11 and views[-1].id == MAX_SUBSCRIPTIONS + 10
    assert report.get([1, 11]) == [views[0]] and views[0].reason == "not for this node (11)"

    report.seen(5000, subscription(), containers=["echo"])
    for interval in range(1, MAX_INTERVALS + 6):
        report.interval(5000, IntervalReport(interval=interval, status=DeliveryStatus.RUNNING))
    report.interval(5000, IntervalReport(interval=MAX_INTERVALS + 5, status=DeliveryStatus.FAILED, error="boom"))
    [view] = report.get([5000])
    assert view.status == "tracked" and view.containers == ["echo"]
    assert [i.interval for i in view.intervals] == list(range(6, MAX_INTERVALS + 6))
    assert (view.intervals[-1].status, view.intervals[-1].error) == (DeliveryStatus.FAILED, "boom")

    report.ended(5000, "finished")
    report.interval(123_456, IntervalReport(interval=1, status=DeliveryStatus.DELIVERED))  # never seen: not shown
    assert report.get([5000])[0].status == "finished" and report.get([123_456]) == []


def test_an_older_intervals_state_arriving_late_takes_its_place_in_order() -> None:
    report = SubscriptionReport()
    report.seen(7, subscription(), containers=["echo"])
    running, delivered = DeliveryStatus.RUNNING, DeliveryStatus.DELIVERED
    # 3 twice, the second time behind newer intervals: its newer state replaces the older one in place.
    for interval, status in ((2, running), (4, running), (3, running), (1, running), (3, delivered)):
        report.interval(7, IntervalReport(interval=interval, status=status))
    [view] = report.get([7])
    assert [(i.interval, i.status) for i in view.intervals] == [
        (1, DeliveryStatus.RUNNING),
        (2, DeliveryStatus.RUNNING),
        (3, DeliveryStatus.DELIVERED),
        (4, DeliveryStatus.RUNNING),
    ]


def test_an_interval_delivered_before_the_subscription_is_seen_is_kept_for_it() -> None:
    """A delegated subscription's first interval is delivered (by `deliverComputeDelegatee`) before the listener
    learns the subscription: the report holds it until then, bounded like the views."""
    report = SubscriptionReport()
    delivered = IntervalReport(interval=1, status=DeliveryStatus.DELIVERED, tx_hash="0x01", block=7, gas_used=21000)
    report.interval(42, delivered)
    assert report.get([42]) == []
    report.seen(42, subscription(), containers=["echo"])
    [view] = report.get([42])
    assert view.status == "tracked" and view.intervals == [delivered]

    for sub_id in range(1000, 1000 + MAX_SUBSCRIPTIONS + 1):
        report.interval(sub_id, delivered)
    report.seen(1000, subscription(), containers=None)  # the oldest early one was dropped
    report.seen(1001, subscription(), containers=None)
    assert [view.intervals for view in report.get([1000, 1001])] == [[], [delivered]]


def test_every_new_state_of_a_view_is_heard() -> None:
    """The event feed hears each change (learned, an interval's new state, ended), not the early intervals."""
    heard: list[tuple[int, str, list[str]]] = []
    report = SubscriptionReport(on_change=lambda v: heard.append((v.id, v.status, [i.status for i in v.intervals])))
    report.interval(9, IntervalReport(interval=1, status=DeliveryStatus.DELIVERED))  # not seen yet: nothing to show
    report.seen(7, subscription(), containers=["echo"])
    report.requested(7, "0x01", 5)
    report.requested(8, "0x02", 5)  # not seen: nothing to show
    report.fulfilled(7, "0xA")
    report.fulfilled(7, "0xB")
    report.fulfilled(7, "0xA")
    report.interval(7, IntervalReport(interval=1, status=DeliveryStatus.RUNNING))
    report.interval(7, IntervalReport(interval=1, status=DeliveryStatus.DELIVERED))
    report.ended(7, "finished")
    report.ended(7, "cancelled")  # no longer tracked: no change
    assert heard == [
        (7, "tracked", []),
        (7, "tracked", []),
        (7, "tracked", []),
        (7, "tracked", []),
        (7, "tracked", []),
        (7, "tracked", ["running"]),
        (7, "tracked", ["delivered"]),
        (7, "finished", ["delivered"]),
    ]
    report.seen(7, subscription(), containers=["echo"])  # learned again after a restart: its request stays
    [view] = report.get([7])
    assert (view.request_tx, view.request_block, view.deliveries) == ("0x01", 5, {"0xA": 2, "0xB": 1})


def test_a_views_event_shows_the_view_as_it_was_when_published() -> None:
    """The feed renders an event's data only when it is first read: the views change in place meanwhile, and each
    event still shows the state it announced."""
    feed = EventFeed()
    report = SubscriptionReport(on_change=lambda view: feed.publish_rendered("subscription", view.rendered_later()))
    report.seen(7, subscription(), containers=["echo"])
    report.requested(7, "0x01", 5)
    report.fulfilled(7, "0xA")
    report.interval(7, IntervalReport(interval=1, status=DeliveryStatus.RUNNING))
    report.interval(7, IntervalReport(interval=1, status=DeliveryStatus.DELIVERED, tx_hash="0x02", block=6))
    report.interval(7, IntervalReport(interval=2, status=DeliveryStatus.RUNNING))
    report.fulfilled(7, "0xA")
    report.ended(7, "cancelled")
    shown = [
        (
            e.data["status"],
            e.data["request_tx"],
            e.data["deliveries"],
            [(i["interval"], i["status"]) for i in e.data["intervals"]],
        )
        for e in feed.history()
    ]
    assert shown == [
        ("tracked", None, {}, []),
        ("tracked", "0x01", {}, []),
        ("tracked", "0x01", {"0xA": 1}, []),
        ("tracked", "0x01", {"0xA": 1}, [(1, "running")]),
        ("tracked", "0x01", {"0xA": 1}, [(1, "delivered")]),
        ("tracked", "0x01", {"0xA": 1}, [(1, "delivered"), (2, "running")]),
        ("tracked", "0x01", {"0xA": 2}, [(1, "delivered"), (2, "running")]),
        ("cancelled", "0x01", {"0xA": 2}, [(1, "delivered"), (2, "running")]),
    ]
    [view] = report.get([7])
    assert feed.history()[-1].data == view.model_dump(mode="json")  # rendered as the model itself dumps it
