"""Proof under load (issue #5): the soak of ``benchmarks/soak.py`` as a test.

Run with `make proof`; the size comes from PROOF_SOAK_MINUTES (default 10) and
PROOF_SOAK_RATE (default 5,000 events/s); PROOF_SOAK_MINUTES=1 PROOF_SOAK_RATE=500
is the short version. The soak prints its figures and a PASS/FAIL per check.
"""

from __future__ import annotations

import os

import pytest
from benchmarks.soak import run_soak

pytestmark = pytest.mark.proof

MINUTES = float(os.environ.get("PROOF_SOAK_MINUTES", "10"))
RATE = float(os.environ.get("PROOF_SOAK_RATE", "5000"))


def test_a_steady_load_keeps_lag_bounded_and_memory_flat(bootstrap_servers: str) -> None:
    report = run_soak(MINUTES, RATE, servers=bootstrap_servers)
    text = "\n".join(report.lines)
    print(f"\n[proof] {text}", flush=True)
    failed = [f"{check.name}: {check.reason}" for check in report.checks if not check.passed]
    assert not failed, "soak checks failed:\n" + "\n".join(failed) + f"\n\n{text}"
