"""Alert fan-out: payload shapes, drop-oldest bounded outboxes, and a dead or slow webhook
never delaying trading or the other webhooks (reliability #29), against a real loopback HTTP
receiver served by hypercorn."""
from __future__ import annotations

import json
import socket

import trio

from actors.alerts import (
    Alert,
    AlertHub,
    Severity,
    Webhook,
    WebhookFormat,
    ledger_recorder,
    render,
    serve_alerts,
)
from arb.ledger import Ledger
from arb.sim.server import serve_asgi

A1 = Alert("breaker_halted", Severity.CRITICAL, "breaker halted: daily loss",
           (("pair", "KX-1|0xc"),))


def receiver(log: list[tuple[str, dict]]):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/slow":
            await trio.sleep(5.0)
        log.append((scope["path"], json.loads(body)))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})
    return app


def dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_payload_shapes():
    assert render(A1, Webhook("j", "u", WebhookFormat.JSON)) == {
        "kind": "breaker_halted", "severity": "critical", "text": "breaker halted: daily loss",
        "fields": {"pair": "KX-1|0xc"}}
    line = "[CRITICAL] breaker_halted: breaker halted: daily loss\npair: KX-1|0xc"
    assert render(A1, Webhook("t", "u", WebhookFormat.TELEGRAM, chat_id="42")) == {
        "chat_id": "42", "text": line}
    assert render(A1, Webhook("d", "u", WebhookFormat.DISCORD)) == {"content": line}
    assert render(A1, Webhook("s", "u", WebhookFormat.SLACK)) == {"text": line}
    long = Alert("x", Severity.INFO, "y" * 5000)
    assert len(render(long, Webhook("d", "u", WebhookFormat.DISCORD))["content"]) == 2000


def test_telegram_needs_a_chat_id():
    try:
        AlertHub([Webhook("t", "http://x", WebhookFormat.TELEGRAM)])
    except ValueError as err:
        assert "Telegram needs a chat_id" in str(err)
    else:
        raise AssertionError("a Telegram webhook without chat_id was accepted")


def test_full_outbox_drops_oldest_and_counts():
    hub = AlertHub([Webhook("s", "http://x", WebhookFormat.SLACK)], capacity=2)
    for i in range(5):
        hub.publish(Alert(f"k{i}", Severity.INFO, str(i)))
    stats = hub.statistics()
    assert stats.published == 5 and stats.dropped == {"s": 3} and stats.queued == {"s": 2}
    assert [a.kind for a in hub._outboxes["s"].queue] == ["k3", "k4"]
    assert [a.kind for a in hub.history()] == ["k0", "k1", "k2", "k3", "k4"]


async def test_dead_and_slow_webhooks_do_not_delay_anything():
    log: list[tuple[str, dict]] = []
    async with trio.open_nursery() as nursery:
        base = await nursery.start(serve_asgi, receiver(log))
        hub = AlertHub([Webhook("json", f"{base}/json", WebhookFormat.JSON),
                        Webhook("slack", f"{base}/slack", WebhookFormat.SLACK),
                        Webhook("dead", dead_url(), WebhookFormat.DISCORD),
                        Webhook("slow", f"{base}/slow", WebhookFormat.SLACK)])
        await nursery.start(lambda task_status: serve_alerts(
            hub, patience=0.3, attempts=2, backoff=0.05, task_status=task_status))
        started = trio.current_time()
        for i in range(3):
            hub.publish(Alert(f"k{i}", Severity.WARNING, f"alert {i}"))  # synchronous
        assert hub.statistics().queued == {"json": 3, "slack": 3, "dead": 3, "slow": 3}
        with trio.fail_after(5):
            while (hub.statistics().delivered["json"] < 3  # noqa: ASYNC110 (real peer)
                   or hub.statistics().delivered["slack"] < 3):
                await trio.sleep(0.01)
        assert trio.current_time() - started < 1.0  # not held back by the slow or dead ones
        assert [body["kind"] for path, body in log if path == "/json"] == ["k0", "k1", "k2"]
        assert [body["text"] for path, body in log if path == "/slack"] == [
            f"[WARNING] k{i}: alert {i}" for i in range(3)]
        with trio.fail_after(10):
            while (hub.statistics().failed["dead"] < 3  # noqa: ASYNC110 (real peer)
                   or hub.statistics().failed["slow"] < 1):
                await trio.sleep(0.05)
        stats = hub.statistics()
        assert stats.delivered["dead"] == 0 and stats.failed["dead"] == 3
        nursery.cancel_scope.cancel()


def test_alerts_are_recorded_in_the_ledger(tmp_path):
    with Ledger.open(tmp_path / "l.sqlite", mode="paper") as ledger:
        hub = AlertHub(recorder=ledger_recorder(ledger))
        hub.publish(A1)
        [record] = ledger.alerts()
        assert (record.severity, record.kind, record.message, record.market) == (
            "critical", "breaker_halted", "breaker halted: daily loss", "KX-1|0xc")
