"""Scale and HTTP under load (issue #5): the code of benchmarks/bench_scale.py as a test.

Run with `make proof`; sizes come from PROOF_SCALE_AGENTS (default 100,000),
PROOF_SCALE_CHATS (default 1,000,000) and PROOF_SCALE_WRK_SECONDS (default 20);
`make test` runs a short version. The figures are printed; what must hold at any
size is asserted: every worker gets ready on tables seeded through their
changelogs, sampled panels equal the fold's, and wrk sees no failed request,
owned or routed.
"""

from __future__ import annotations

import os
import shutil

import pytest
from benchmarks import bench_scale as bench

pytestmark = pytest.mark.proof

AGENTS = int(os.environ.get("PROOF_SCALE_AGENTS", "100000"))
CHATS = int(os.environ.get("PROOF_SCALE_CHATS", "1000000"))
WRK_SECONDS = int(os.environ.get("PROOF_SCALE_WRK_SECONDS", "20"))


def test_seeded_tables_recover_and_serve_under_load(bootstrap_servers: str) -> None:
    assert shutil.which("wrk"), "wrk is missing: apt-get install -y wrk"
    options = bench.Options(
        bootstrap=bootstrap_servers,
        agents=AGENTS,
        chats=CHATS,
        samples=50,
        wrk_seconds=WRK_SECONDS,
        wrk_connections=8,
        # A first start recovers every changelog record through Faust: 264-337 s at full
        # size in earlier runs, and over 600 s in an hour when this machine ran at half its
        # speed (RELIABILITY.md). The guard only stops a hang; the restart's target
        # (< 10 s) is among the figures printed.
        ready_timeout=1200.0,
        command=f"pytest tests/proof/test_scale.py ({AGENTS:,} agents, {CHATS:,} chats)",
    )
    results = bench.run(options)
    print(f"\n[proof] {bench.report(results)}", flush=True)
    assert bench.checks(results) == []
    assert results.chats > CHATS * 0.9
    routed = results.wrk["two_workers_routed"]
    assert routed.requests > 0
    assert set(results.owners_before) == set(results.worker_urls.values())
