"""Fixtures and reporting hooks; the shared helpers are in tests/helpers.py."""

from __future__ import annotations

import pytest

from tests.helpers import all_topologies, topologies_of


@pytest.fixture(params=sorted(all_topologies()), ids=str)
def topology_case(request):
    """Each topology under test, of either target: the seed's, the Harbor 2.15 example and the golden ones."""
    return request.param, all_topologies()[request.param]


@pytest.fixture(params=sorted(topologies_of("1.1.2")), ids=str)
def harbor1_case(request):
    """Each Harbor 1.1.2 topology under test."""
    return request.param, all_topologies()[request.param]


@pytest.fixture(params=sorted(topologies_of("2.15")), ids=str)
def harbor2_case(request):
    """Each Harbor 2.15 topology under test."""
    return request.param, all_topologies()[request.param]


def pytest_terminal_summary(terminalreporter):
    """Say how many tests drove a real program, and how they ended, so a CI log shows they ran."""
    counts = {
        outcome: sum(
            1 for report in terminalreporter.stats.get(outcome, [])
            if "real_component" in getattr(report, "keywords", {}) and getattr(report, "when", "call") in ("call", "setup")
        )
        for outcome in ("passed", "skipped", "failed", "error")
    }
    terminalreporter.write_line(
        "real-component tests: " + ", ".join(f"{count} {outcome}" for outcome, count in counts.items())
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "real_component: drives a real program (nginx, docker-compose, shellcheck, ...)")


@pytest.fixture(scope="session")
def token_pair() -> tuple[str, str]:
    """One RSA pair for the whole session: making a 4096-bit key takes a while."""
    from generator.secrets.generate import token_key_pair

    return token_key_pair("tests")
