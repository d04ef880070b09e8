"""A live feed that goes away, however it goes, ends the dashboard's keeper subscription: a
graceful close, a reset (no FIN: SO_LINGER 0), or a client that never read a byte. No browser:
httpx on 127.0.0.1 against a real `gridkeeper web` process and a real keeper. The keeper's
`ping` counts its subscribers (the monitor's own, plus one per feed)."""

from __future__ import annotations

import signal
import socket
import struct
from collections.abc import Callable

import httpx
import pytest

from tests.integration.bot.conftest import wait_for
from tests.integration.operations.conftest import Ops
from tests.integration.web.conftest import Web, quiet_subscribers, subscribers

ROUNDS = 8  # the bug this guards against hit about one stream in 25: several rounds per way
RELEASE_S = 10.0


def _reset(feed: httpx.Response) -> None:
    """Make the coming close a reset: the server sees ECONNRESET, not an orderly EOF."""
    sock = feed.extensions["network_stream"].get_extra_info("socket")
    assert isinstance(sock, socket.socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _read_first_event(feed: httpx.Response) -> None:
    lines = feed.iter_lines()  # dropped on return: httpx then closes the connection
    assert next(line for line in lines if line.startswith("event:")) == "event: instances"


def _read_nothing(feed: httpx.Response) -> None:
    pass


def _reset_after_first_event(feed: httpx.Response) -> None:
    _reset(feed)  # first: reading ends with the iterator's drop, which closes the socket
    _read_first_event(feed)


@pytest.mark.parametrize(
    "before_drop",
    [_read_first_event, _reset_after_first_event, _read_nothing],
    ids=["closed", "reset", "never-read"],
)
def test_a_dropped_feed_returns_the_keepers_subscribers_to_their_count(
    ops: Ops, web: Web, before_drop: Callable[[httpx.Response], None]
) -> None:
    ops.program("plain")
    assert ops.gk("start", "-d").returncode == 0
    baseline = quiet_subscribers(ops.home)
    for _ in range(ROUNDS):
        with httpx.stream("GET", web.url + "/api/events", headers=web.auth(), timeout=10) as feed:
            assert feed.status_code == 200
            assert feed.headers["content-type"].startswith("text/event-stream")
            wait_for(lambda: subscribers(ops.home) == baseline + 1, what="the feed's subscription")
            before_drop(feed)
        wait_for(lambda: subscribers(ops.home) == baseline, timeout=RELEASE_S, what="its release")
    # A feed that stays open keeps its subscription (and its events keep coming) while the
    # client reads: the release above is the drop's doing, not a feed that ends by itself.
    with httpx.stream("GET", web.url + "/api/events", headers=web.auth(), timeout=10) as feed:
        lines = feed.iter_lines()  # held: dropping the iterator closes the connection
        assert next(line for line in lines if line.startswith("event:")) == "event: instances"
        wait_for(lambda: subscribers(ops.home) == baseline + 1, what="a fresh subscription")
        # `--refresh 1`: the next table comes within a second or so.
        assert next(line for line in lines if line == "event: instances")
        assert subscribers(ops.home) == baseline + 1
    wait_for(lambda: subscribers(ops.home) == baseline, timeout=RELEASE_S, what="its release")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill-9"])
def test_a_dashboard_that_goes_away_with_a_feed_open_releases_its_subscription(
    ops: Ops, web: Web, sig: signal.Signals
) -> None:
    """Stopped (SIGTERM: uvicorn ends the open stream after its 3 s grace) or killed, the
    dashboard's subscription ends: the keeper sees the hang-up itself, not at its next event."""
    ops.program("plain")
    assert ops.gk("start", "-d").returncode == 0
    baseline = quiet_subscribers(ops.home)
    with httpx.stream("GET", web.url + "/api/events", headers=web.auth(), timeout=10) as feed:
        lines = feed.iter_lines()  # held open while the dashboard goes away
        assert next(line for line in lines if line.startswith("event:")) == "event: instances"
        wait_for(lambda: subscribers(ops.home) == baseline + 1, what="the feed's subscription")
        web.proc.send_signal(sig)
        assert web.proc.wait(timeout=10) is not None
        wait_for(lambda: subscribers(ops.home) == baseline, timeout=RELEASE_S, what="its release")
