"""A load-balancer pair on one floating address, with the real keepalived and nginx and the rendered
files, in network namespaces the test creates (tests/harness/lbpair.py). The outcomes are asserted
(one holder, clients served again, no move back); the windows are measured in `make bench`."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

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


def test_a_site_change_on_both_nodes_under_load_drops_no_request(pair, tmp_path):
    """The plan's order for a new site: the node without the address first, then the holder; each by a
    graceful reload (what run-nginx.sh does: nginx -t, then SIGHUP). A client polls throughout."""
    holder = pair.wait_for_one_holder()
    other = next(name for name in BALANCERS if name != holder)
    log, stop = tmp_path / "poll.log", tmp_path / "stop"
    poller = pair.poll(log, stop)
    time.sleep(1)
    for name in (other, holder):
        site = pair.directory / name / "nginx" / "site.conf"
        site.write_text(site.read_text().replace("proxy_read_timeout 900s;", "proxy_read_timeout 1200s;"))
        checked = pair.lab.run(name, pair.nginx_binary, "-t", "-q", "-p", str(site.parent), "-c", str(site.parent / "nginx.conf"))
        assert checked.returncode == 0, checked.stderr
        (master,) = [pid for pid in pair.lab.pids_of(name, "nginx") if _is_master(pid)]
        os.kill(master, signal.SIGHUP)
        time.sleep(1)
    stop.touch()
    poller.wait(timeout=30)
    answers = log.read_text().split()
    assert answers.count("ok") > 20 and "fail" not in answers
    assert pair.holders() == [holder], "a reload moved the address"


def _is_master(pid: int) -> bool:
    return "master process" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")


def test_a_split_brain_shows_as_the_address_on_both_nodes_and_ends_when_they_hear_each_other(pair):
    """Both up, their adverts dropped (VRRP is IP protocol 112): each takes the address, and the
    RUNBOOK's check (the address on each node's interface) finds it on both. Healed, one gives it up."""
    pair.wait_for_one_holder()
    drop = ["iptables", "-I", "INPUT", "-p", "112", "-j", "DROP"]
    for name in BALANCERS:
        assert pair.lab.run(name, *drop).returncode == 0
    try:
        deadline = time.monotonic() + 20
        while len(pair.holders()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sorted(pair.holders()) == sorted(BALANCERS), "the split brain went unseen"
    finally:
        for name in BALANCERS:
            pair.lab.run(name, "iptables", "-D", "INPUT", "-p", "112", "-j", "DROP")
    pair.wait_for_one_holder()


def test_a_crashed_keepalived_leaves_two_holders_until_systemd_restarts_it_with_the_drop_in(pair):
    """SIGKILL leaves the address on the crashed node while its peer takes it too. systemd restarts
    keepalived (the drop-in's Restart=on-failure) after running the drop-in's ExecStartPre, played
    here as written, in that node's namespace: then exactly one node holds the address again."""
    holder = pair.wait_for_one_holder()
    other = next(name for name in BALANCERS if name != holder)
    pair.kill(holder, "keepalived")
    deadline = time.monotonic() + 20
    while other not in pair.holders() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(pair.holders()) == sorted(BALANCERS), "the crash should leave the address behind (why the drop-in exists)"

    drop_in = pair.tree[f"{holder}/keepalived/keepalived-service.conf"].content.decode()
    (pre,) = [line.split("=", 1)[1].lstrip("-") for line in drop_in.splitlines() if line.startswith("ExecStartPre=")]
    assert "Restart=on-failure" in drop_in.splitlines()
    assert pair.lab.run(holder, *pre.split()).returncode == 0
    pair.start_keepalived(holder)
    time.sleep(5)
    assert pair.holders() == [other], "the restarted node took the address back, or kept it"
