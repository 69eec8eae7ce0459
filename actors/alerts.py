# Design note: alert fan-out.
#
# Problem: the operator must hear about breaker trips, one-sided fills, unwinds and disabled
# pairs, through webhooks (generic JSON, Telegram, Discord, Slack) that may be down or slow.
# Naive approach: ``await client.post(...)`` where the event happens. A dead webhook then stalls
# the market actor mid-execution, and a retry loop turns a webhook outage into a trading outage.
#
# Chosen approach: ``AlertHub.publish`` is synchronous and never blocks. It appends the alert to
# one bounded drop-oldest outbox per webhook (one per subscriber: a slow Slack never delays
# Telegram) and to a bounded history; drops are counted per webhook. One sender task per webhook
# drains its outbox with a per-request patience and a bounded number of retries with backoff; an
# alert that exhausts its retries is counted as failed and dropped. Newest alerts matter most, so
# overflow drops the oldest.
#
# Payload shapes: Telegram Bot API ``sendMessage`` takes ``{"chat_id", "text"}``; Discord
# webhooks take ``{"content"}`` (2000 characters at most); Slack incoming webhooks take
# ``{"text"}``; the generic shape is our own JSON object.
from __future__ import annotations

import collections
import enum
from collections.abc import Callable, Sequence

import attrs
import httpx
import trio

from arb.ledger import Ledger

DISCORD_MAX_CHARS = 2000


class Severity(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@attrs.frozen
class Alert:
    kind: str
    """Stable machine-readable kind (``breaker_tripped``, ``one_sided_fill``, ...)."""
    severity: Severity
    text: str
    """What happened, naming venue, market and cause."""
    fields: tuple[tuple[str, str], ...] = ()


class WebhookFormat(enum.Enum):
    JSON = "json"
    TELEGRAM = "telegram"
    DISCORD = "discord"
    SLACK = "slack"


@attrs.frozen
class Webhook:
    name: str
    url: str
    format: WebhookFormat
    chat_id: str | None = None
    """Telegram only: the chat to post into."""


def render(alert: Alert, webhook: Webhook) -> dict[str, object]:
    """The JSON body ``webhook`` expects for ``alert``."""
    line = f"[{alert.severity.value.upper()}] {alert.kind}: {alert.text}"
    if alert.fields:
        line += "\n" + "\n".join(f"{k}: {v}" for k, v in alert.fields)
    match webhook.format:
        case WebhookFormat.JSON:
            return {"kind": alert.kind, "severity": alert.severity.value, "text": alert.text,
                    "fields": dict(alert.fields)}
        case WebhookFormat.TELEGRAM:
            if webhook.chat_id is None:
                raise ValueError(f"webhook {webhook.name}: Telegram needs a chat_id")
            return {"chat_id": webhook.chat_id, "text": line}
        case WebhookFormat.DISCORD:
            return {"content": line[:DISCORD_MAX_CHARS]}
        case WebhookFormat.SLACK:
            return {"text": line}


@attrs.frozen
class AlertStatistics:
    published: int
    delivered: dict[str, int]
    dropped: dict[str, int]
    """Per webhook: alerts dropped because its outbox was full (drop-oldest)."""
    failed: dict[str, int]
    """Per webhook: alerts abandoned after the retry budget."""
    queued: dict[str, int]


@attrs.define(eq=False)
class _Outbox:
    queue: collections.deque[Alert]
    wakeup: trio.Event = attrs.field(factory=trio.Event)
    delivered: int = 0
    dropped: int = 0
    failed: int = 0


@attrs.define(eq=False)
class AlertHub:
    """Non-blocking alert publisher with one bounded drop-oldest outbox per webhook."""

    webhooks: Sequence[Webhook] = ()
    capacity: int = 256
    """Outbox size per webhook."""
    history_size: int = 256
    recorder: Callable[[Alert], None] | None = None
    """Called with every alert before it is queued (e.g. to write it to the ledger's alert
    table, so a webhook is never the only record); its errors propagate."""
    published: int = 0
    _outboxes: dict[str, _Outbox] = attrs.field(init=False)
    _history: collections.deque[Alert] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        if self.capacity < 1:
            raise ValueError(f"alert capacity must be >= 1, got {self.capacity}")
        for w in self.webhooks:
            if w.format is WebhookFormat.TELEGRAM and w.chat_id is None:
                raise ValueError(f"webhook {w.name}: Telegram needs a chat_id")
        self._outboxes = {w.name: _Outbox(collections.deque()) for w in self.webhooks}
        self._history = collections.deque(maxlen=self.history_size)

    def publish(self, alert: Alert) -> None:
        """Queue ``alert`` for every webhook; never blocks, never raises on a full outbox."""
        if self.recorder is not None:
            self.recorder(alert)
        self.published += 1
        self._history.append(alert)
        for box in self._outboxes.values():
            if len(box.queue) >= self.capacity:
                box.queue.popleft()
                box.dropped += 1
            box.queue.append(alert)
            box.wakeup.set()

    def history(self) -> tuple[Alert, ...]:
        """The most recent alerts, oldest first (bounded)."""
        return tuple(self._history)

    def statistics(self) -> AlertStatistics:
        return AlertStatistics(
            published=self.published,
            delivered={n: b.delivered for n, b in self._outboxes.items()},
            dropped={n: b.dropped for n, b in self._outboxes.items()},
            failed={n: b.failed for n, b in self._outboxes.items()},
            queued={n: len(b.queue) for n, b in self._outboxes.items()})

    async def _drain(self, webhook: Webhook, client: httpx.AsyncClient, patience: float,
                     attempts: int, backoff: float) -> None:
        box = self._outboxes[webhook.name]
        while True:
            if not box.queue:
                box.wakeup = trio.Event()
                await box.wakeup.wait()
                continue
            alert = box.queue.popleft()
            body = render(alert, webhook)
            for attempt in range(attempts):
                if await _post(client, webhook.url, body, patience):
                    box.delivered += 1
                    break
                if attempt + 1 < attempts:
                    await trio.sleep(backoff * 2 ** attempt)
            else:
                box.failed += 1


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, object],
                patience: float) -> bool:
    """POST once; True on a 2xx answer within ``patience``."""
    with trio.move_on_after(patience):
        try:
            response = await client.post(url, json=body)
        except httpx.HTTPError:
            return False
        return response.is_success
    return False


async def serve_alerts(hub: AlertHub, *, patience: float = 5.0, attempts: int = 3,
                       backoff: float = 1.0,
                       task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Deliver the hub's alerts to its webhooks until cancelled.

    Args:
        patience: seconds allowed per POST; a slower webhook counts as a failed attempt.
        attempts: tries per alert and webhook before it is counted failed and dropped.
        backoff: seconds before the second try, doubling after.
    """
    async with httpx.AsyncClient() as client, trio.open_nursery() as nursery:
        for webhook in hub.webhooks:
            nursery.start_soon(hub._drain, webhook, client, patience, attempts, backoff)
        task_status.started()
        await trio.sleep_forever()


def ledger_recorder(ledger: Ledger) -> Callable[[Alert], None]:
    """A ``recorder`` that appends every alert to the ledger's alert table."""
    def record(alert: Alert) -> None:
        fields = dict(alert.fields)
        ledger.record_alert(alert.severity.value, alert.kind, alert.text,
                            market=fields.get("pair"))
    return record
