"""Production packaging (issue 9): Dockerfile, Kubernetes manifests, compose file.

No Docker engine and no cluster: manifests are parsed with PyYAML and the core kinds validated
offline with kubernetes-validate's bundled schemas (strict: unknown fields rejected); the CRD kinds
are checked for the fields their operators require. The generated manifests must equal what
deploy/render_k8s.py writes from their sources (rules file, dashboards, Alertmanager config,
design topics). `kubectl kustomize` and `docker-compose config` run when installed.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from streams.contract.config import load_settings
from streams.contract.topics import design_topics

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "deploy" / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
KUBERNETES_VERSION = "1.30.0"
KUSTOMIZATIONS = ["base", "overlays/production", "topics"]
CORE_API_GROUPS = ("v1", "apps/v1", "policy/v1", "networking.k8s.io/v1")
PATCHES = {K8S / "overlays" / "production" / "workers.yaml"}  # partial: checked once applied


# kustomize writes `matchType: =` unquoted: a string in YAML 1.2, a YAML 1.1 `value` tag.
_KustomizeLoader: Any = type("_KustomizeLoader", (yaml.SafeLoader,), {})

_KustomizeLoader.add_constructor(
    "tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node)
)


def _render_k8s() -> ModuleType:
    spec = importlib.util.spec_from_file_location("render_k8s", ROOT / "deploy" / "render_k8s.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _manifest_files() -> list[Path]:
    return sorted(
        p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml" and p not in PATCHES
    )


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def _all_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [(p, d) for p in _manifest_files() for d in _docs(p)]


def _by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for _, d in _all_docs() if d["kind"] == kind]


# (a) every manifest parses; core kinds validate; CRDs have their required fields


def test_every_manifest_parses_and_names_itself() -> None:
    docs = _all_docs()
    assert len(docs) >= 15
    for path, doc in docs:
        assert isinstance(doc, dict), path
        for field in ("apiVersion", "kind", "metadata"):
            assert field in doc, f"{path}: no {field}"
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc["metadata"]["name"]), path


def test_every_kustomization_lists_existing_files() -> None:
    for name in KUSTOMIZATIONS:
        kustomization = yaml.safe_load((K8S / name / "kustomization.yaml").read_text())
        for resource in kustomization["resources"]:
            assert (K8S / name / resource).exists(), f"{name}: {resource} missing"
        for patch in kustomization.get("patches", []):
            assert (K8S / name / patch["path"]).is_file()
    listed = {
        (K8S / name / r).resolve()
        for name in KUSTOMIZATIONS
        for r in yaml.safe_load((K8S / name / "kustomization.yaml").read_text())["resources"]
    }
    for path in _manifest_files():
        assert path.resolve() in listed, f"{path} is in no kustomization"


def _validate_core(docs: list[tuple[str, dict[str, Any]]]) -> set[str]:
    """Strict schema validation (unknown fields are errors) of the core kinds; their kinds."""
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kinds = set()
    for where, doc in docs:
        if doc["apiVersion"] not in CORE_API_GROUPS:
            continue
        kinds.add(doc["kind"])
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except Exception as exc:
            message = getattr(exc, "message", str(exc))
            pytest.fail(f"{where}: {doc['kind']}/{doc['metadata']['name']}: {message}")
    return kinds


def test_core_kinds_validate_against_the_kubernetes_schema() -> None:
    kinds = _validate_core([(str(p), d) for p, d in _all_docs()])
    assert {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget"} <= kinds
    assert {"NetworkPolicy", "Namespace"} <= kinds


def test_kustomize_builds_every_kustomization() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not on PATH: `kubectl kustomize` not run")
    for name in KUSTOMIZATIONS:
        out = subprocess.run(
            [kubectl, "kustomize", str(K8S / name)],
            check=False,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, f"{name}: {out.stderr}"
        docs = [d for d in yaml.load_all(out.stdout, Loader=_KustomizeLoader) if d]
        _validate_core([(f"kustomize {name}", d) for d in docs])
        if name == "overlays/production":
            assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
                "surge-monitor"
            }
            (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
            image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
            assert image.endswith(":0.1.0") and "/" in image


def test_worker_deployment_is_locked_down_and_probed() -> None:
    (deployment,) = _by_kind("Deployment")
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    # Service links would inject SURGE_*_SERVICE_HOST, unknown settings the worker rejects.
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] and container["resources"]["limits"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    assert container["ports"] == [{"name": "metrics", "containerPort": 9108, "protocol": "TCP"}]
    selector = deployment["spec"]["selector"]["matchLabels"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy", "Service"):
        (doc,) = _by_kind(kind)
        chosen = doc["spec"]["selector"] if kind == "Service" else None
        chosen = chosen or doc["spec"].get("selector", doc["spec"].get("podSelector"))
        chosen = chosen.get("matchLabels", chosen)
        assert chosen == selector, kind


def test_settings_configmap_holds_only_known_valid_settings() -> None:
    (settings_map,) = [
        d for d in _by_kind("ConfigMap") if d["metadata"]["name"].endswith("-settings")
    ]
    settings = load_settings(settings_map["data"])  # raises on an unknown or invalid SURGE_*
    assert settings.metrics_host == "0.0.0.0"  # noqa: S104 - inside a pod, on purpose
    assert settings.metrics_port == 9108
    (secret,) = _by_kind("Secret")
    assert secret["stringData"] == {"SURGE_OVERFLOW_TOKEN": ""}  # placeholder, fails safe


def test_network_policy_admits_monitoring_to_metrics_and_egress_to_kafka() -> None:
    (policy,) = _by_kind("NetworkPolicy")
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": 9108}]
    assert ingress["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
    ]
    egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert egress_ports == {9092, 53}


def test_crd_kinds_have_their_required_fields() -> None:
    (monitor,) = _by_kind("ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    (rule,) = _by_kind("PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    for group in rule["spec"]["groups"]:
        assert group["name"] and group["rules"]
        for r in group["rules"]:
            assert r["alert"] and r["expr"]
    (am,) = _by_kind("AlertmanagerConfig")
    assert am["apiVersion"] == "monitoring.coreos.com/v1alpha1"
    receivers = {r["name"] for r in am["spec"]["receivers"]}
    assert am["spec"]["route"]["receiver"] in receivers

    def walk(route: dict[str, Any]) -> None:
        assert route.get("receiver", "default") in receivers
        for m in route.get("matchers", []):
            assert set(m) == {"name", "value", "matchType"}
            assert m["matchType"] in ("=", "!=", "=~", "!~")
        for child in route.get("routes", []):
            walk(child)

    walk(am["spec"]["route"])
    topics = _by_kind("KafkaTopic")
    for topic in topics:
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"]
        assert topic["spec"]["partitions"] >= 1 and topic["spec"]["replicas"] >= 1


# (b) generated manifests equal their sources


def test_generated_manifests_are_up_to_date() -> None:
    render_k8s = _render_k8s()
    assert render_k8s.main(["--check"]) == 0, "run .venv/bin/python deploy/render_k8s.py"


def test_prometheus_rule_groups_equal_the_rules_file() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules/surge.yml").read_text())
    (rule,) = _by_kind("PrometheusRule")
    assert rule["spec"]["groups"] == rules["groups"]


def test_dashboard_configmaps_equal_the_dashboard_files() -> None:
    maps = {
        name: text
        for d in _by_kind("ConfigMap")
        if d["metadata"].get("labels", {}).get("grafana_dashboard") == "1"
        for name, text in d["data"].items()
    }
    files = {p.name: p.read_text() for p in (ROOT / "grafana/json").glob("*.json")}
    assert files and maps == files
    for text in maps.values():
        json.loads(text)


# (c) KafkaTopics = the design's topics


def test_kafka_topics_match_the_design() -> None:
    all_topics = {t["metadata"]["name"]: t for t in _by_kind("KafkaTopic")}
    state = {name: n for name, n in _render_k8s().state_topics(load_settings({}))}
    topics = {n: t["spec"]["partitions"] for n, t in all_topics.items() if n not in state}
    assert topics == {t.name: t.partitions for t in design_topics(load_settings({}))}
    assert topics == {
        "nhs111.call-events": 8,
        "ambulance.dispatches": 8,
        "surge.alerts": 4,
        "surge.overflow": 4,
        "surge.dead-letter": 4,
        "nhs111.agent-states": 8,
        "nhs111.rota": 1,
    }
    assert all_topics["nhs111.rota"]["spec"]["config"]["cleanup.policy"] == "compact"
    assert "cleanup.policy" not in all_topics["nhs111.agent-states"]["spec"]["config"]


def test_state_topics_are_compacted_and_co_partitioned() -> None:
    topics = {t["metadata"]["name"]: t["spec"] for t in _by_kind("KafkaTopic")}
    assert topics["surge-monitor-answer-rates-checkpoints"]["partitions"] == 8
    assert topics["surge-monitor-dispatches-checkpoints"]["partitions"] == 8
    for name in ("overflow-checkpoints", "region-status", "overflow-requests"):
        assert topics[f"surge-monitor-{name}"]["partitions"] == 1
    for name, spec in topics.items():
        if name.startswith("surge-monitor-"):
            assert spec["config"]["cleanup.policy"] == "compact", name


# (d) compose: parses, loopback-only ports, `docker-compose config` accepts it


def _compose() -> dict[str, Any]:
    compose = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(compose, dict)
    return compose


def test_compose_services_and_loopback_ports() -> None:
    services = _compose()["services"]
    assert {"kafka", "worker-1", "worker-2", "prometheus", "alertmanager", "grafana"} <= set(
        services
    )
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    published = []
    for name, service in services.items():
        assert ":latest" not in service.get("image", ""), name
        assert "network_mode" not in service, name
        for port in service.get("ports", []):
            assert isinstance(port, str), f"{name}: use the HOST_IP:HOST:CONTAINER form"
            assert port.startswith("127.0.0.1:"), f"{name}: {port} not bound to 127.0.0.1"
            published.append(port)
    assert len(published) >= 7
    for worker in ("worker-1", "worker-2"):
        assert services[worker]["build"]["context"] == ".."
        assert services[worker]["environment"]["SURGE_METRICS_HOST"] == "0.0.0.0"  # noqa: S104
    load_settings(services["worker-1"]["environment"])
    volumes = " ".join(services["grafana"]["volumes"])
    assert "../grafana/provisioning" in volumes and "../grafana/json" in volumes


def test_compose_topics_match_the_design() -> None:
    script = _compose()["services"]["kafka-init"]["command"][0]
    specs = dict(re.findall(r"([a-z0-9.-]+):(\d+)", script.split("for spec in ")[1].split(";")[0]))
    assert {k: int(v) for k, v in specs.items()} == {
        t.name: t.partitions for t in design_topics(load_settings({}))
    }


def test_docker_compose_config_accepts_the_file() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose not on PATH (deploy/setup.sh installs it)")
    out = subprocess.run(
        [exe, "-f", str(COMPOSE), "config", "--quiet"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": "unix:///nonexistent"},
    )
    assert out.returncode == 0, out.stderr


# (e) Dockerfile


def test_dockerfile_is_multi_stage_pinned_and_non_root() -> None:
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 2
    for image in froms:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", image)
    assert any(line.startswith("FROM ") and line.endswith(" AS builder") for line in lines)
    final = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    assert any(line.startswith("COPY --from=builder /opt/venv") for line in final)
    assert not any("apt-get install" in line for line in final), "no build tools in the image"
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK ") for line in final)
    text = DOCKERFILE.read_text()
    assert "/metrics" in text and "urllib.request" in text
    assert 'ENTRYPOINT ["surge-monitor"]' in lines and 'CMD ["worker"]' in lines
    assert re.search(r"SURGE_METRICS_HOST=0\.0\.0\.0", text)


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".surge", "deploy/kafka/target", ".git", "**/__pycache__"} <= ignored
