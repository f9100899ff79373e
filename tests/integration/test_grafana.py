"""The Grafana deployment: deploy/grafana/ and the `grafana` service of docker-compose.kafka.yml.

No Grafana and no Docker engine are needed. The dashboard's queries are checked against the
worker's own metric registry (``streamstats.metrics.Metrics``), so a renamed metric fails
here rather than as an empty panel. ``promtool check rules`` parses every query when the
``prometheus`` Debian package is installed, and ``docker-compose config`` resolves the
Compose file when ``docker-compose`` is; those tests skip only when their tool is missing.

PyYAML is not a dependency, so the YAML files are read as text (one key per line).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from streamstats.metrics import Metrics

from .conftest import run_checked, tool

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "streamstats.json"
DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = GRAFANA_DIR / "provisioning" / "dashboards" / "streamstats.yml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
COMPOSE_FILE = ROOT / "docker-compose.kafka.yml"

DATASOURCE_UID = "prometheus"
WORKER_TARGET = "worker:6066"
METRIC_NAME = re.compile(r"streamstats_[a-z_]+")
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
# Grafana's own variables, with values that make a query plain PromQL.
GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "15m",
    "$instance": ".+",
}


def _dashboard() -> dict[str, Any]:
    loaded = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def _panels() -> list[dict[str, Any]]:
    panels = _dashboard()["panels"]
    assert isinstance(panels, list)
    return panels


def _exprs() -> list[str]:
    exprs: list[str] = []
    for panel in _panels():
        for target in panel.get("targets", []):
            expr = target.get("expr")
            assert isinstance(expr, str), f"{panel['title']}: target without a PromQL expr"
            exprs.append(expr)
    return exprs


def _worker_metrics() -> dict[str, set[str]]:
    """``{family name: sample names}`` of every metric the worker registers.

    Labelled metrics without a child yet produce no samples, so the names come from each
    family's name and type rather than from ``family.samples``.
    """
    families: dict[str, set[str]] = {}
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names = {f"{family.name}_total"}
        elif family.type == "histogram":
            names = {f"{family.name}{suffix}" for suffix in HISTOGRAM_SUFFIXES}
        elif family.type == "gauge":
            names = {family.name}
        else:  # pragma: no cover - the worker only uses these three types
            pytest.fail(f"unexpected metric type {family.type!r} of {family.name}")
        families[family.name] = names
    return families


def _family_of(name: str, families: dict[str, set[str]]) -> str | None:
    for family, names in families.items():
        if name in names:
            return family
    return None


def _yaml_value(text: str, key: str) -> str:
    """The scalar after ``key:`` in ``text`` (first match, quotes removed)."""
    match = re.search(rf"^\s*-?\s*{re.escape(key)}:\s*(.+?)\s*$", text, re.MULTILINE)
    assert match is not None, f"no {key!r} in:\n{text}"
    return match.group(1).strip("'\"")


def _worker_job() -> str:
    """The ``job_name`` of the scrape job for the worker in deploy/prometheus/prometheus.yml."""
    text = PROMETHEUS_CONFIG.read_text(encoding="utf-8")
    jobs = re.split(r"^\s*- job_name:", text, flags=re.MULTILINE)[1:]
    scraping_worker = [job for job in jobs if WORKER_TARGET in job]
    assert len(scraping_worker) == 1, text
    return scraping_worker[0].splitlines()[0].strip().strip("'\"")


def test_dashboard_is_json_with_a_fixed_uid_and_5s_refresh() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "streamstats"
    assert dashboard["title"] == "streamstats"
    assert dashboard["refresh"] == "5s"
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 36
    assert "__inputs" not in dashboard, "a provisioned dashboard cannot resolve ${DS_...} inputs"
    assert "${DS_" not in DASHBOARD.read_text(encoding="utf-8")


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    panels = _panels()
    assert len(panels) >= 9
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), ids
    cells: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        covered = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not covered & cells, f"{panel['title']} overlaps another panel"
        cells |= covered


def test_every_panel_is_a_time_series_with_a_target() -> None:
    for panel in _panels():
        assert panel["type"] == "timeseries", panel["title"]
        targets = panel.get("targets", [])
        assert targets, f"{panel['title']} has no target"
        ref_ids = [target["refId"] for target in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target["expr"].strip(), panel["title"]


def test_every_panel_uses_the_provisioned_datasource() -> None:
    assert _yaml_value(DATASOURCES.read_text(encoding="utf-8"), "uid") == DATASOURCE_UID
    for panel in _panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"]) == panel["datasource"]
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == DATASOURCE_UID, variable["name"]


def test_rate_panels_are_in_ops_and_delays_in_seconds() -> None:
    for panel in _panels():
        unit = panel["fieldConfig"]["defaults"]["unit"]
        exprs = " ".join(target["expr"] for target in panel["targets"])
        if "histogram_quantile(" in exprs:
            assert unit == "s", panel["title"]
        elif "rate(" in exprs:
            assert unit == "ops", panel["title"]


def test_every_metric_in_a_query_is_one_the_worker_exports() -> None:
    families = _worker_metrics()
    exported = set().union(*families.values())
    for expr in _exprs():
        names = METRIC_NAME.findall(expr)
        assert names, f"no streamstats metric in {expr!r}"
        unknown = sorted(set(names) - exported)
        assert not unknown, f"{expr!r} uses {unknown}, which the worker does not export"


def test_every_worker_metric_is_on_the_dashboard() -> None:
    families = _worker_metrics()
    used = {_family_of(name, families) for expr in _exprs() for name in METRIC_NAME.findall(expr)}
    missing = sorted(set(families) - used)
    assert not missing, f"no panel shows {missing}"


def test_delay_quantiles_are_p50_and_p99_by_stage() -> None:
    pattern = re.compile(r"histogram_quantile\(\s*([0-9.]+)\s*,(.*)")
    quantiles = [match.groups() for expr in _exprs() if (match := pattern.search(expr))]
    assert {float(q) for q, _rest in quantiles} >= {0.5, 0.99}
    for _q, rest in quantiles:
        assert "streamstats_processing_delay_seconds_bucket" in rest, rest
        by = re.search(r"by \(([^)]*)\)", rest)
        assert by is not None, rest
        assert {label.strip() for label in by.group(1).split(",")} >= {"le", "stage"}, rest


def test_queries_select_the_worker_scrape_job() -> None:
    job = _worker_job()
    variables = [
        variable["definition"]
        for variable in _dashboard()["templating"]["list"]
        if variable["type"] == "query"
    ]
    for expr in _exprs() + variables:
        jobs = set(re.findall(r'job\s*=\s*"([^"]*)"', expr))
        assert jobs == {job}, f"{expr!r} does not select job {job!r}"


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    """``promtool`` has no check for a single query, so each one becomes a recording rule."""
    promtool = tool("promtool", "prometheus")
    rules: list[dict[str, str]] = []
    for index, expr in enumerate(_exprs()):
        plain = expr
        for variable in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
            plain = plain.replace(variable, GRAFANA_VARIABLES[variable])
        assert "$" not in plain, f"unknown Grafana variable in {expr!r}"
        rules.append({"record": f"streamstats:dashboard_query_{index}", "expr": plain})
    # JSON is YAML, so promtool reads this rule file as is.
    rule_file = tmp_path / "dashboard-queries.rules.yml"
    document = {"groups": [{"name": "streamstats-dashboard", "rules": rules}]}
    rule_file.write_text(json.dumps(document), encoding="utf-8")
    result = run_checked(promtool, "check", "rules", str(rule_file))
    assert "SUCCESS" in result.stdout + result.stderr


def test_datasource_is_the_compose_prometheus() -> None:
    text = DATASOURCES.read_text(encoding="utf-8")
    assert _yaml_value(text, "apiVersion") == "1"
    assert _yaml_value(text, "type") == "prometheus"
    assert _yaml_value(text, "url") == "http://prometheus:9090"
    assert _yaml_value(text, "uid") == DATASOURCE_UID


def test_dashboard_provider_reads_json_files_from_a_folder() -> None:
    text = DASHBOARD_PROVIDERS.read_text(encoding="utf-8")
    assert _yaml_value(text, "apiVersion") == "1"
    assert _yaml_value(text, "type") == "file"
    assert _yaml_value(text, "path").startswith("/")


def _compose_services() -> dict[str, str]:
    """``{service: resolved configuration}`` as printed by ``docker-compose config``.

    docker-compose 1.29 prints PyYAML's block style: services at two spaces, their keys at
    four, one key per line.
    """
    compose = tool("docker-compose", "docker-compose")
    result = run_checked(compose, "-f", str(COMPOSE_FILE), "config")
    assert "WARNING" not in result.stderr, result.stderr
    services: dict[str, list[str]] = {}
    current: list[str] | None = None
    inside = False
    for line in result.stdout.splitlines():
        if not inside:
            inside = line == "services:"
            continue
        if line.strip() and not line.startswith("  "):
            break
        if re.fullmatch(r"  \S.*:", line):
            current = services.setdefault(line.strip()[:-1].strip("'\""), [])
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines) for name, lines in services.items()}


def test_compose_grafana_service_mounts_the_dashboard_and_provisioning() -> None:
    services = _compose_services()
    assert "grafana" in services, sorted(services)
    grafana = services["grafana"]
    assert _yaml_value(grafana, "image") == "grafana/grafana:11.3.0"
    assert _yaml_value(grafana, "published") == "3000"
    assert _yaml_value(grafana, "target") == "3000"
    assert _yaml_value(grafana, "GF_AUTH_ANONYMOUS_ENABLED") == "true"
    assert re.search(r"^    depends_on:\n      prometheus:", grafana, re.MULTILINE), grafana

    mounts: dict[Path, str] = {}
    for source, target in re.findall(r"^    - (/[^:\s]+):([^:\s]+)(?::r[ow])?$", grafana, re.M):
        mounts[Path(source).resolve()] = target
    provisioning = "/etc/grafana/provisioning"
    assert mounts.get(DATASOURCES.parent) == f"{provisioning}/datasources", mounts
    assert mounts.get(DASHBOARD_PROVIDERS.parent) == f"{provisioning}/dashboards", mounts

    # The provider's folder is a mount of a host folder that holds the dashboard.
    provider_path = _yaml_value(DASHBOARD_PROVIDERS.read_text(encoding="utf-8"), "path")
    folders = [source for source, target in mounts.items() if target == provider_path]
    assert len(folders) == 1, f"nothing mounted on {provider_path}: {mounts}"
    assert DASHBOARD.resolve().is_relative_to(folders[0])
    home = _yaml_value(grafana, "GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    assert home == f"{provider_path}/{DASHBOARD.resolve().relative_to(folders[0]).as_posix()}"
