"""The container deployment: docker-compose.kafka.yml, deploy/Dockerfile and Prometheus.

No Docker engine is needed: ``docker-compose config`` only parses, validates and prints the
resolved Compose file, and ``promtool check config`` only reads the Prometheus configuration.
Both tools come from Debian packages (``docker-compose``, ``prometheus``); a test skips only
when its tool is not installed at all.

``docker-compose`` 1.29 (Debian 12) has no ``config --format json``, so its YAML output is
read here as text: it is PyYAML's block style, two spaces per level, one key per line.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from .conftest import run_checked, tool

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.kafka.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"

SERVICES = {"kafka", "kafka-init", "worker", "prometheus", "grafana"}
WEB_PORT = 6066


def _compose(*args: str) -> subprocess.CompletedProcess[str]:
    compose = tool("docker-compose", "docker-compose")
    return run_checked(compose, "-f", str(COMPOSE_FILE), *args)


def _blocks(text: str, header: str, indent: int) -> dict[str, str]:
    """Split the mapping under ``header`` (a line of its own) into ``{key: nested text}``.

    Keys are the lines indented by exactly ``indent`` spaces below the header; a key's text
    runs to the next such key or to the first line indented less (the end of the mapping).
    """
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    inside = False
    for line in text.splitlines():
        if not inside:
            inside = line == header
            continue
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip(" "))
        if depth < indent:
            break
        if depth == indent and line.rstrip().endswith(":"):
            current = blocks.setdefault(line.strip()[:-1].strip("'\""), [])
        elif current is not None:
            current.append(line)
    return {key: "\n".join(lines) for key, lines in blocks.items()}


def _value(block: str, key: str) -> str:
    """The scalar after ``key:`` in ``block`` (first match, quotes removed)."""
    match = re.search(rf"^\s*-?\s*{re.escape(key)}:\s*(.+?)\s*$", block, re.MULTILINE)
    assert match is not None, f"no {key!r} in:\n{block}"
    return match.group(1).strip("'\"")


@pytest.fixture(scope="module")
def services() -> dict[str, str]:
    """The resolved configuration of each service, as printed by ``docker-compose config``."""
    result = _compose("config")
    assert "WARNING" not in result.stderr, result.stderr
    return _blocks(result.stdout, "services:", 2)


def test_compose_file_defines_the_five_services() -> None:
    listed = set(_compose("config", "--services").stdout.split())
    assert listed == SERVICES


def test_compose_config_parses_into_the_five_services(services: dict[str, str]) -> None:
    assert set(services) == SERVICES


def test_kafka_is_a_single_kraft_node_with_a_healthcheck(services: dict[str, str]) -> None:
    kafka = services["kafka"]
    assert _value(kafka, "image") == "apache/kafka:4.1.1"
    assert _value(kafka, "KAFKA_PROCESS_ROLES") == "broker,controller"
    assert _value(kafka, "KAFKA_CONTROLLER_QUORUM_VOTERS") == "1@kafka:9093"
    listeners = _value(kafka, "KAFKA_LISTENERS").split(",")
    assert {"PLAINTEXT://:9092", "CONTROLLER://:9093", "EXTERNAL://:29092"} <= set(listeners)
    assert "PLAINTEXT://kafka:9092" in _value(kafka, "KAFKA_ADVERTISED_LISTENERS")
    assert _value(kafka, "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1"
    assert _value(kafka, "published") == "29092"
    assert "/opt/kafka/bin/kafka-broker-api-versions.sh" in kafka


def test_kafka_init_creates_the_input_topics_after_kafka_is_healthy(
    services: dict[str, str],
) -> None:
    init = services["kafka-init"]
    assert _value(init, "image") == _value(services["kafka"], "image")
    assert "condition: service_healthy" in init
    assert "--create --if-not-exists" in init
    for topic in ("agent-status", "chat-events"):
        assert topic in init
    assert "--partitions 4" in init


def test_worker_builds_from_deploy_dockerfile(services: dict[str, str]) -> None:
    worker = services["worker"]
    assert _value(worker, "dockerfile") == "deploy/Dockerfile"
    assert Path(_value(worker, "context")).resolve() == ROOT
    assert DOCKERFILE.is_file()


def test_worker_waits_for_kafka_and_topics(services: dict[str, str]) -> None:
    depends_on = _blocks(services["worker"], "    depends_on:", 6)
    assert _value(depends_on["kafka"], "condition") == "service_healthy"
    assert _value(depends_on["kafka-init"], "condition") == "service_completed_successfully"


def test_worker_environment_matches_the_topics_and_ports(services: dict[str, str]) -> None:
    worker = services["worker"]
    assert _value(worker, "STREAMSTATS_BOOTSTRAP_SERVERS") == "kafka:9092"
    assert _value(worker, "STREAMSTATS_STATUS_TOPIC") == "agent-status"
    assert _value(worker, "STREAMSTATS_CHAT_TOPIC") == "chat-events"
    assert _value(worker, "STREAMSTATS_PARTITIONS") == "4"
    assert _value(worker, "STREAMSTATS_DATA_DIR") == "/data"
    assert _value(worker, "STREAMSTATS_WEB_HOST") == "worker"
    assert _value(worker, "STREAMSTATS_WEB_PORT") == str(WEB_PORT)
    assert _value(worker, "published") == str(WEB_PORT)
    assert _value(worker, "target") == str(WEB_PORT)
    assert re.search(r"^\s*- \S+:/data(:rw)?$", worker, re.MULTILINE), worker


def test_prometheus_mounts_the_scrape_config(services: dict[str, str]) -> None:
    prometheus = services["prometheus"]
    assert _value(prometheus, "image").startswith("prom/prometheus:")
    assert f"{PROMETHEUS_CONFIG}:/etc/prometheus/prometheus.yml" in prometheus
    assert _value(prometheus, "published") == "9090"


def test_prometheus_scrapes_the_worker_every_5s() -> None:
    text = PROMETHEUS_CONFIG.read_text(encoding="utf-8")
    jobs = re.split(r"^\s*- job_name:", text, flags=re.MULTILINE)[1:]
    scraping_worker = [job for job in jobs if f"worker:{WEB_PORT}" in job]
    assert len(scraping_worker) == 1, text
    job = scraping_worker[0]
    assert _value(job, "scrape_interval") == "5s"
    metrics_path = re.search(r"^\s*metrics_path:\s*(\S+)", job, re.MULTILINE)
    assert metrics_path is None or metrics_path.group(1) == "/metrics"


def test_promtool_accepts_the_prometheus_config() -> None:
    promtool = tool("promtool", "prometheus")
    result = run_checked(promtool, "check", "config", str(PROMETHEUS_CONFIG))
    assert "SUCCESS" in result.stdout + result.stderr


def test_dockerfile_runs_the_worker_as_non_root_with_a_healthcheck() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b|^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(rf"^EXPOSE {WEB_PORT}$", text, re.MULTILINE)
    assert re.search(r"^VOLUME \[?\"?/data\"?\]?$", text, re.MULTILINE)
    assert 'ENTRYPOINT ["streamstats"]' in text
    assert 'CMD ["worker"]' in text
    healthcheck = text[text.index("HEALTHCHECK") :]
    assert "urllib" in healthcheck
    assert "/healthz" in healthcheck


def test_dockerfile_copies_only_files_the_build_context_has() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    ignored = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    sources: list[str] = []
    for match in re.finditer(r"^COPY\s+(?!--from)(.+)$", text, re.MULTILINE):
        *copied, _destination = match.group(1).split()
        sources.extend(source for source in copied if not source.startswith("--"))
    assert {"pyproject.toml", "README.md", "constraints.txt", "src/"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
        assert source.rstrip("/") not in ignored, f".dockerignore excludes {source}"
