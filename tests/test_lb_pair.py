"""A load-balancer pair on one floating address, with the real keepalived and nginx and the rendered
files, in network namespaces the test creates (tests/harness/lbpair.py). The outcomes are asserted
(one holder, clients served again, no move back); the windows are measured in `make bench`."""

from __future__ import annotations

import time

import pytest

from tests.harness.lbpair import BALANCERS, failover, running_pair

pytestmark = pytest.mark.real_component


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    with running_pair(tmp_path_factory.mktemp("pair")) as started:
        yield started


def test_the_floating_address_is_on_exactly_one_load_balancer_and_serves(pair, tmp_path):
    holder = pair.wait_for_one_holder()
    assert holder in BALANCERS
    log, stop = tmp_path / "poll.log", tmp_path / "stop"
    poller = pair.poll(log, stop, seconds=3)
    poller.wait(timeout=30)
    answers = log.read_text().split()
    assert answers.count("ok") > 10 and "fail" not in answers


def test_killing_the_holders_nginx_moves_the_address_and_clients_come_back(pair, tmp_path):
    window, old, new = failover(pair, tmp_path, lambda holder: pair.kill(holder, "nginx"))
    assert new != old and pair.holders() == [new]
    assert window is not None, "clients never reached the floating address again"
    print(f"nginx killed on {old}: clients failed for {window:.2f} s until {new} answered")
    # The old holder's nginx comes back: nopreempt keeps the address where it is.
    pair.start_nginx(old)
    time.sleep(5)
    assert pair.holders() == [new], "the address moved back when the old holder recovered"


def test_the_holders_link_going_down_moves_the_address(pair, tmp_path):
    holder = pair.wait_for_one_holder()
    try:
        window, old, new = failover(pair, tmp_path, lambda name: pair.lab.link(name, up=False))
        assert old == holder and new != old
        assert window is not None, "clients never reached the floating address again"
        print(f"link of {old} down: clients failed for {window:.2f} s until {new} answered")
    finally:
        pair.lab.link(holder, up=True)
    time.sleep(5)
    assert [name for name in pair.holders() if name != holder] == [new], "the address left the new holder"
