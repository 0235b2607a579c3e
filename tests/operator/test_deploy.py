"""Deployment files: systemd units, Dockerfile, compose, Prometheus, Grafana and Kubernetes.

Each file is parsed and checked for what an operator relies on; external checkers
(`systemd-analyze`, `promtool`) run when installed and the tests skip with the reason otherwise.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hedgebot.config import MarginSettings
from hedgebot.core.margin_alerts import MarginThresholds
from hedgebot.operator.http_api import HealthReport, OperatorServer, ReadinessReport
from hedgebot.operator.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = {
    "hedgebot.service": DEPLOY / "systemd" / "hedgebot.service",
    "hedgebot@.service": DEPLOY / "systemd" / "hedgebot@.service",
}
RUNBOOK = ROOT / "docs" / "operator.md"

REQUIRED_SERVICE_DIRECTIVES = {
    "Type": "notify",
    "NotifyAccess": "main",
    "WatchdogSec": "30",
    "Restart": "on-failure",
    "RestartPreventExitStatus": "78",
    "DynamicUser": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces": "yes",
    "LockPersonality": "yes",
    "SystemCallArchitectures": "native",
    "EnvironmentFile": "-/etc/hedgebot/env",
}
INSTANCE_KEYS = {"Description", "ExecStart", "StateDirectory", "WorkingDirectory", "LoadCredential"}


def yaml_module() -> Any:
    return pytest.importorskip("yaml", reason="PyYAML is not installed: YAML files not parsed")


def unit_directives(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; systemd allows a key to repeat."""
    section, out = "", []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def service_values(path: Path, key: str) -> list[str]:
    return [v for s, k, v in unit_directives(path) if s == "Service" and k == key]


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit_has_the_required_directives(name: str) -> None:
    """Both units are hardened notify services with a watchdog that never restart-loop on config."""
    path = UNITS[name]
    for key, value in REQUIRED_SERVICE_DIRECTIVES.items():
        assert value in service_values(path, key), f"{name}: {key}={value} missing"
    assert "@system-service" in service_values(path, "SystemCallFilter")
    credentials = {v.partition(":")[0] for v in service_values(path, "LoadCredential")}
    assert credentials == {"deribit_api_key", "deribit_api_secret"}
    environment = service_values(path, "Environment")
    for credential in credentials:
        variable = f"HEDGEBOT__VENUES__DERIBIT__{credential.removeprefix('deribit_').upper()}_FILE"
        assert f"{variable}=%d/{credential}" in environment
    assert ("Install", "WantedBy", "multi-user.target") in unit_directives(path)


def test_single_unit_runs_the_default_config() -> None:
    """hedgebot.service runs the venv's hedgebot on /etc/hedgebot/hedgebot.toml."""
    path = UNITS["hedgebot.service"]
    assert service_values(path, "ExecStart") == [
        "/opt/hedgebot/.venv/bin/hedgebot run --config /etc/hedgebot/hedgebot.toml"
        " $HEDGEBOT_RUN_FLAGS"
    ]
    assert service_values(path, "StateDirectory") == ["hedgebot"]


def test_template_unit_separates_instances() -> None:
    """hedgebot@NAME reads /etc/hedgebot/NAME.toml, keeps its own state and credentials."""
    path = UNITS["hedgebot@.service"]
    assert service_values(path, "ExecStart") == [
        "/opt/hedgebot/.venv/bin/hedgebot run --config /etc/hedgebot/%i.toml $HEDGEBOT_RUN_FLAGS"
    ]
    assert service_values(path, "StateDirectory") == ["hedgebot/%i"]
    assert all("/credentials/%i/" in v for v in service_values(path, "LoadCredential"))


def test_template_and_single_unit_share_the_same_hardening() -> None:
    """The two units never drift apart except in their per-instance lines."""

    def shared(path: Path) -> set[tuple[str, str, str]]:
        return {d for d in unit_directives(path) if d[1] not in INSTANCE_KEYS and "%i" not in d[2]}

    assert shared(UNITS["hedgebot.service"]) == shared(UNITS["hedgebot@.service"])


@pytest.fixture
def verifiable_units(tmp_path: Path) -> Path:
    """The unit files with ExecStart pointing at an existing binary (verify checks it exists)."""
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    for name, path in UNITS.items():
        text = path.read_text().replace("/opt/hedgebot/.venv/bin/hedgebot", sys.executable)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_systemd_analyze_verify_accepts_the_units(verifiable_units: Path) -> None:
    """systemd itself parses both units without an unknown or invalid directive."""
    result = subprocess.run(
        ["systemd-analyze", "verify", "./hedgebot.service", "./hedgebot@deribit-main.service"],
        cwd=verifiable_units,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not re.search(r"unknown|invalid|ignoring|failed", output, re.IGNORECASE), output


def test_systemd_security_exposure_is_low(verifiable_units: Path) -> None:
    """`systemd-analyze security` rates the unit's exposure at most 2.0 (of 10)."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", "./hedgebot.service"],
        cwd=verifiable_units,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if "--offline" in result.stderr and "unrecognized" in result.stderr:
        pytest.skip("this systemd-analyze has no --offline security analysis")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_builds_a_pinned_non_root_image() -> None:
    """The image starts from python:3.11-slim, installs with constraints and runs as non-root."""
    instructions = dockerfile_instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms
    assert all(f.startswith("python:3.11-slim") for f in froms)
    assert any("-c constraints.txt" in rest for word, rest in instructions if word == "RUN")
    users = [rest for word, rest in instructions if word == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("EXPOSE", "9102") in instructions


def healthcheck_code() -> str:
    (rest,) = [rest for word, rest in dockerfile_instructions() if word == "HEALTHCHECK"]
    exec_form = json.loads(rest[rest.index("CMD") + 3 :].strip())
    assert exec_form[:2] == ["python", "-c"]
    return str(exec_form[2])


class ProbeView:
    """Just enough of an OperatorView for the container health check to probe."""

    def __init__(self, alive: bool) -> None:
        self.alive = alive

    def health(self) -> HealthReport:
        return HealthReport(alive=self.alive, last_turn_ms=None)

    def readiness(self) -> ReadinessReport:
        return ReadinessReport(ready=True)

    def status(self) -> dict[str, object]:
        return {}

    def halt(self, reason: str) -> None: ...

    def resume(self) -> None: ...

    def flatten_hedges(self) -> str:
        return ""


@pytest.mark.parametrize(("alive", "exit_code"), [(True, 0), (False, 1)])
async def test_docker_healthcheck_follows_healthz(alive: bool, exit_code: int) -> None:
    """The container HEALTHCHECK exits 0 on a healthy daemon and non-zero on a stalled one."""
    code = healthcheck_code()
    assert "http://127.0.0.1:9102/healthz" in code
    async with OperatorServer(ProbeView(alive), Metrics(), port=0) as server:
        probe = code.replace(":9102/", f":{server.port}/")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            probe,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert await asyncio.wait_for(process.wait(), 30) == exit_code


def test_compose_publishes_only_on_loopback_and_binds_explicitly() -> None:
    """compose runs hedgebot, Prometheus and Grafana, publishing ports on 127.0.0.1 only."""
    compose = yaml_module().safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"hedgebot", "prometheus", "grafana"}
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    hedgebot = services["hedgebot"]
    assert hedgebot["environment"]["HEDGEBOT__HTTP__HOST"] == "0.0.0.0"
    assert (DEPLOY / hedgebot["build"]["context"] / hedgebot["build"]["dockerfile"]).is_file()
    assert set(hedgebot["secrets"]) <= set(compose["secrets"])
    mounted = [
        v.split(":")[0]
        for s in services.values()
        for v in s.get("volumes", [])
        if v.startswith(".")
    ]
    operator_supplied = {"./hedgebot.toml"}
    for source in mounted:
        assert source in operator_supplied or (DEPLOY / source).exists(), f"{source} missing"


def test_prometheus_scrapes_hedgebot_and_loads_the_rules() -> None:
    """Prometheus scrapes hedgebot:9102/metrics and evaluates the alert rules file."""
    config = yaml_module().safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "hedgebot"]
    assert job["static_configs"][0]["targets"] == ["hedgebot:9102"]
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file()


def exported_metric_names() -> set[str]:
    """Every sample name a Metrics instance exports once each record method has been called."""
    metrics = Metrics(process_collectors=False)
    metrics.record_underlying("BTC", net_delta=0, target=0, band=0, price=0, gamma=0, vega=0)
    metrics.record_headroom("a", maintenance_ratio=0, available=0, equity=0)
    metrics.record_order("BTC")
    metrics.record_fill("BTC", fee_usd=1.0)
    metrics.record_fill("BTC", fee_usd=-1.0)
    metrics.record_reject("BTC")
    metrics.record_pnl("BTC", {"fees_usd": 1.0})
    metrics.record_data_age("s", 0)
    metrics.observe_decision_latency(0)
    metrics.record_reconnect("v")
    text = metrics.render().decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples}


def alert_rules() -> list[dict[str, Any]]:
    document = yaml_module().safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (DEPLOY / "grafana" / "dashboards" / "hedgebot.json").read_text()
    )
    return document


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in dashboard()["panels"] for t in p["targets"]]


def test_alert_rules_cover_margin_staleness_and_stalls_with_runbook_links() -> None:
    """Margin warning/critical, stale data and a stalled loop alert, each linking the runbook."""
    rules = alert_rules()
    names = {r["alert"] for r in rules}
    assert {
        "HedgebotMarginWarning",
        "HedgebotMarginCritical",
        "HedgebotDataStale",
        "HedgebotLoopStalled",
        "HedgebotDown",
    } <= names
    anchors = runbook_anchors()
    for rule in rules:
        link = rule["annotations"]["runbook"]
        assert link.partition("#")[2] in anchors, f"{rule['alert']}: {link} has no runbook section"


def test_backup_margin_alerts_use_the_configured_default_levels() -> None:
    """Prometheus and Grafana margin levels match the daemon's default warning/critical ratios."""
    defaults = MarginSettings()
    rules = {r["alert"]: r["expr"] for r in alert_rules()}
    assert f">= {defaults.warning_ratio}" in rules["HedgebotMarginWarning"]
    assert f"< {defaults.critical_ratio}" in rules["HedgebotMarginWarning"]
    assert f">= {defaults.critical_ratio}" in rules["HedgebotMarginCritical"]
    (panel,) = [p for p in dashboard()["panels"] if "maintenance" in p["title"]]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps[1:]] == [defaults.warning_ratio, defaults.critical_ratio]
    thresholds = MarginThresholds()
    assert (thresholds.warning, thresholds.critical, thresholds.gap) == (
        defaults.warning_ratio,
        defaults.critical_ratio,
        defaults.hysteresis,
    )


def test_rules_and_dashboard_only_use_metrics_hedgebot_exports() -> None:
    """Every hedgebot_* series queried by an alert or a panel is one the daemon exports."""
    exported = exported_metric_names()
    queries = [r["expr"] for r in alert_rules()] + dashboard_exprs()
    used = {name for q in queries for name in re.findall(r"\bhedgebot_[a-z_]+", q)}
    assert used
    assert used <= exported, used - exported


def test_grafana_dashboard_has_the_operator_panels() -> None:
    """The provisioned dashboard shows delta vs band, margin headroom, hedges and data age."""
    board = dashboard()
    titles = " | ".join(p["title"] for p in board["panels"])
    for wanted in ("Net delta vs band", "Margin", "headroom", "Hedges", "Data age"):
        assert wanted in titles
    datasources = yaml_module().safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    uid = datasources["datasources"][0]["uid"]
    assert {p["datasource"]["uid"] for p in board["panels"]} == {uid}
    provider = yaml_module().safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "hedgebot.yaml").read_text()
    )
    compose = yaml_module().safe_load((DEPLOY / "compose.yaml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["providers"][0]["options"]["path"]


@pytest.fixture
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool is not installed (Debian package: prometheus)")
    return path


def run_promtool(promtool: str, *args: str, cwd: Path) -> None:
    result = subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_accepts_config_and_rules(promtool: str) -> None:
    """promtool validates prometheus.yml and the alert rules."""
    run_promtool(promtool, "check", "config", "prometheus.yml", cwd=DEPLOY / "prometheus")


def test_alert_rules_fire_as_the_runbook_says(promtool: str) -> None:
    """promtool rule unit tests: margin warns at 50%, is critical at 75%, staleness, stalls."""
    run_promtool(promtool, "test", "rules", "alerts_test.yml", cwd=DEPLOY / "prometheus")


def test_dashboard_queries_are_valid_promql(promtool: str, tmp_path: Path) -> None:
    """Every Grafana panel query parses as PromQL (checked as recording rules by promtool)."""
    rules = [
        {
            "record": f"dashboard:query_{i}",
            "expr": expr.replace("$underlying", ".*").replace("$account", ".*"),
        }
        for i, expr in enumerate(dashboard_exprs())
    ]
    (tmp_path / "dashboard_rules.yml").write_text(
        json.dumps({"groups": [{"name": "dashboard", "rules": rules}]})
    )
    run_promtool(promtool, "check", "rules", "dashboard_rules.yml", cwd=tmp_path)


def k8s_documents() -> dict[str, dict[str, Any]]:
    """Kubernetes objects by kind (one of each kind in deploy/k8s)."""
    yaml = yaml_module()
    by_kind: dict[str, dict[str, Any]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            assert document["kind"] not in by_kind, f"two {document['kind']} objects"
            by_kind[document["kind"]] = document
    return by_kind


def test_k8s_deployment_probes_health_and_readiness() -> None:
    """One replica, replaced (never doubled), probed on /healthz and /readyz of the http port."""
    deployment = k8s_documents()["Deployment"]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert {"name": "http", "containerPort": 9102, "protocol": "TCP"} in container["ports"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    env = {e["name"]: e for e in container["env"]}
    assert env["HEDGEBOT__HTTP__HOST"]["value"] == "0.0.0.0"
    assert "value" not in env["HEDGEBOT__HTTP__CONTROL_TOKEN"], "the token comes from the Secret"
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_k8s_objects_reference_each_other() -> None:
    """Service, ServiceMonitor, ConfigMap and Secret names and labels match the Deployment."""
    docs = k8s_documents()
    assert {"Deployment", "Service", "ConfigMap", "Secret", "ServiceMonitor"} <= set(docs)
    pod = docs["Deployment"]["spec"]["template"]
    service, monitor = docs["Service"], docs["ServiceMonitor"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    service_ports = {p["name"] for p in service["spec"]["ports"]}
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= service_ports
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    secret = docs["Secret"]
    assert volumes["credentials"]["secret"]["secretName"] == secret["metadata"]["name"]
    mounted_keys = {item["key"] for item in volumes["credentials"]["secret"]["items"]}
    (container,) = pod["spec"]["containers"]
    env_keys = {e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if "valueFrom" in e}
    assert mounted_keys | env_keys == set(secret["stringData"])
    assert "hedgebot.toml" in docs["ConfigMap"]["data"]
    kustomization = yaml_module().safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).is_file()


def runbook_anchors() -> set[str]:
    """GitHub-style anchors of the runbook's headings."""
    anchors = set()
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^a-z0-9 _-]", "", title).replace(" ", "-"))
    return anchors


def test_runbook_covers_every_alert_and_deployment() -> None:
    """docs/operator.md has a section for each alert hedgebot sends and each way to deploy it."""
    anchors = runbook_anchors()
    for section in (
        "margin-warning",
        "margin-critical",
        "margin-recovered",
        "start-up",
        "shutdown",
        "stale-data",
        "disconnected",
        "order-rejected",
        "order-outcome-unknown",
        "trading-state-changed",
        "hedge-failing-repeatedly",
        "systemd",
        "docker-compose",
        "kubernetes",
    ):
        assert section in anchors, f"docs/operator.md lacks a '{section}' section"
