# Design note: routing book changes and feed health to market actors.
#
# Problem: a feed applies every delta to its books itself and then has to tell the market actors
# owning those books, synchronously and without ever blocking (a blocked reader stops answering
# pings and the venue drops the socket). A market-data flood must not grow memory, and a slow
# market actor must not slow the feed.
#
# Naive approach: a memory channel of BookUpdate messages per actor. Bounded, it blocks the feed
# or drops updates silently when full; unbounded, it grows without limit under a flood, and the
# actor then detects on stale intermediate states one by one.
#
# Chosen approach: deltas are never conflated (the feed applies them all to the book), but the
# *notification* is: each market actor has a ``Mailbox`` holding the set of its keys that changed
# since it last looked (a set bounded by the actor's own keys) plus a single ``trio.Event``
# wakeup. A change to an already-dirty key is counted as conflated. Feed health is latest-value
# per venue in the same mailbox: one slot per subscriber and venue, so every affected actor sees
# the newest state (Trio channel clones would hand each message to only one receiver). Nothing
# here can grow beyond the number of routed keys and venues.
from __future__ import annotations

import collections

import attrs
import trio

from arb.domain import Venue
from arb.venues.protocol import FeedHealth

BookKey = tuple[Venue, str]


@attrs.frozen
class Changes:
    """What happened since the mailbox was last read."""

    keys: frozenset[BookKey]
    health: tuple[FeedHealth, ...]
    """The newest health report per venue that changed, if any."""


@attrs.define(eq=False)
class Mailbox:
    """One market actor's conflating inbox of book changes and feed health."""

    keys: frozenset[BookKey]
    notified: int = 0
    conflated: int = 0
    """Change notices merged into an already-pending one (latest value wins)."""
    _dirty: set[BookKey] = attrs.field(factory=set)
    _health: dict[Venue, FeedHealth] = attrs.field(factory=dict)
    _wakeup: trio.Event = attrs.field(factory=trio.Event)

    def _mark(self, key: BookKey) -> None:
        self.notified += 1
        if key in self._dirty:
            self.conflated += 1
        else:
            self._dirty.add(key)
        self._wakeup.set()

    def _set_health(self, health: FeedHealth) -> None:
        if health.venue in self._health:
            self.conflated += 1
        self._health[health.venue] = health
        self._wakeup.set()

    def wake(self) -> None:
        """Wake the waiting actor with nothing pending (it has something else to look at)."""
        self._wakeup.set()

    def take_nowait(self) -> Changes:
        """Everything pending (possibly nothing), and reset."""
        changes = Changes(frozenset(self._dirty), tuple(self._health.values()))
        self._dirty.clear()
        self._health.clear()
        self._wakeup = trio.Event()
        return changes

    async def wait_changes(self) -> Changes:
        """Wait until something is pending, then take it."""
        await self._wakeup.wait()
        return self.take_nowait()


@attrs.frozen
class RouterStatistics:
    notified: int
    unrouted: int
    """Changes for keys nobody subscribed to."""
    conflated: int
    subscribers: int


@attrs.define(eq=False)
class BookRouter:
    """A ``BookListener`` that fans book changes and feed health out to market actors."""

    notified: int = 0
    unrouted: int = 0
    _by_key: dict[BookKey, list[Mailbox]] = attrs.field(
        factory=lambda: collections.defaultdict(list))
    _by_venue: dict[Venue, list[Mailbox]] = attrs.field(
        factory=lambda: collections.defaultdict(list))
    _mailboxes: list[Mailbox] = attrs.field(factory=list)

    def subscribe(self, keys: frozenset[BookKey]) -> Mailbox:
        """A new mailbox for ``keys`` (and for the health of their venues)."""
        if not keys:
            raise ValueError("a mailbox needs at least one book key")
        mailbox = Mailbox(keys)
        self._mailboxes.append(mailbox)
        for key in keys:
            self._by_key[key].append(mailbox)
        for venue in {venue for venue, _ in keys}:
            self._by_venue[venue].append(mailbox)
        return mailbox

    def unsubscribe(self, mailbox: Mailbox) -> None:
        """Stop routing to ``mailbox`` (idempotent)."""
        if mailbox not in self._mailboxes:
            return
        self._mailboxes.remove(mailbox)
        for key in mailbox.keys:
            self._by_key[key].remove(mailbox)
            if not self._by_key[key]:
                del self._by_key[key]
        for venue in {venue for venue, _ in mailbox.keys}:
            self._by_venue[venue].remove(mailbox)

    def book_changed(self, venue: Venue, key: str) -> None:
        self.notified += 1
        mailboxes = self._by_key.get((venue, key))
        if not mailboxes:
            self.unrouted += 1
            return
        for mailbox in mailboxes:
            mailbox._mark((venue, key))

    def feed_health(self, health: FeedHealth) -> None:
        if health.keys:
            targets: dict[int, Mailbox] = {}
            for key in health.keys:
                for mailbox in self._by_key.get((health.venue, key), ()):
                    targets[id(mailbox)] = mailbox
            affected = list(targets.values())
        else:
            affected = list(self._by_venue.get(health.venue, ()))
        for mailbox in affected:
            mailbox._set_health(health)

    def statistics(self) -> RouterStatistics:
        return RouterStatistics(self.notified, self.unrouted,
                                sum(m.conflated for m in self._mailboxes), len(self._mailboxes))
