"""The Kubernetes manifests of deploy/k8s, checked offline (no cluster here).

Core kinds are validated against the Kubernetes JSON schemas bundled by ``kubernetes-validate``;
the Prometheus Operator's PodMonitor gets a structural check of its own. The rest checks that the
manifests agree with each other (selectors, Services, ports) and with ``events/settings/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from events.settings import Settings
from streams.peer_hosts import PeerHosts

REPO = Path(__file__).resolve().parents[3]
K8S = REPO / "deploy" / "k8s"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"

# The oldest Kubernetes the manifests target (PVC retention policy is GA from 1.32) and the newest
# whose schemas the validator bundles.
KUBERNETES_VERSIONS = ("1.32.0", kubernetes_validate.latest_version())
OPERATOR_API = "monitoring.coreos.com/v1"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}
SETTINGS_VARIABLES = {f"SALESPULSE_{name.upper()}" for name in Settings.model_fields}
WORKER_PORT = Settings.model_fields["worker_web_port"].default
INGEST_PORT = Settings.model_fields["ingest_port"].default


def _documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


MANIFEST_FILES = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")
KUSTOMIZATIONS = sorted(K8S.rglob("kustomization.yaml"))
MANIFESTS = [(path, doc) for path in MANIFEST_FILES for doc in _documents(path)]


def _id(path: Path, doc: dict) -> str:
    return f"{path.relative_to(K8S)}:{doc['kind']}/{doc['metadata']['name']}"


def _of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in MANIFESTS if doc["kind"] == kind]


def _one(kind: str, name: str) -> dict:
    [doc] = [doc for doc in _of_kind(kind) if doc["metadata"]["name"] == name]
    return doc


def _workloads() -> list[dict]:
    return [doc for _, doc in MANIFESTS if doc["kind"] in WORKLOAD_KINDS]


def _pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def _container(workload: dict) -> dict:
    [container] = _pod_spec(workload)["containers"]
    return container


def _env(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


def _selects(match_labels: dict, labels: dict) -> bool:
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


def _pods_selected_by(match_labels: dict) -> list[dict]:
    return [
        w
        for w in _workloads()
        if _selects(match_labels, w["spec"]["template"]["metadata"]["labels"])
    ]


def _named_ports(workload: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in _container(workload).get("ports", [])}


def _port_number(workload: dict, port: int | str) -> int:
    return port if isinstance(port, int) else _named_ports(workload)[port]


def _kubernetes_validation_cases() -> list:
    return [
        pytest.param(doc, version, id=f"{_id(path, doc)}@{version}")
        for path, doc in MANIFESTS
        if doc["apiVersion"] != OPERATOR_API
        for version in KUBERNETES_VERSIONS
    ]


@pytest.mark.parametrize(("manifest", "version"), _kubernetes_validation_cases())
def test_every_core_manifest_validates_strictly_against_the_kubernetes_schemas(manifest, version):
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path)
        pytest.fail(f"{where}: {exc.message}")


RELABEL_ACTIONS = (
    "Replace", "Keep", "Drop", "LabelMap", "LabelDrop", "LabelKeep", "HashMod", "Lowercase",
    "Uppercase", "KeepEqual", "DropEqual",
)  # fmt: skip
# The part of the PodMonitor CRD these manifests use, with its types and enums; unknown fields of
# an endpoint are refused so that a typo cannot pass.
PODMONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": OPERATOR_API},
        "kind": {"const": "PodMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["selector", "podMetricsEndpoints"],
            "additionalProperties": False,
            "properties": {
                "jobLabel": {"type": "string"},
                "namespaceSelector": {"type": "object"},
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "podMetricsEndpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"},
                            "scrapeTimeout": {"type": "string", "pattern": r"^(\d+(ms|s|m|h))+$"},
                            "honorLabels": {"type": "boolean"},
                            "authorization": {"$ref": "#/$defs/authorization"},
                            "relabelings": {"$ref": "#/$defs/relabelings"},
                            "metricRelabelings": {"$ref": "#/$defs/relabelings"},
                        },
                    },
                },
            },
        },
    },
    "$defs": {
        "authorization": {
            "type": "object",
            "required": ["credentials"],
            "additionalProperties": False,
            "properties": {
                "type": {"type": "string", "minLength": 1},
                "credentials": {
                    "type": "object",
                    "required": ["name", "key"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "key": {"type": "string", "minLength": 1},
                        "optional": {"type": "boolean"},
                    },
                },
            },
        },
        "relabelings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "action": {"enum": [*RELABEL_ACTIONS, *(a.lower() for a in RELABEL_ACTIONS)]},
                    "sourceLabels": {"type": "array", "items": {"type": "string"}},
                    "separator": {"type": "string"},
                    "targetLabel": {"type": "string"},
                    "regex": {"type": "string"},
                    "modulus": {"type": "integer", "minimum": 1},
                    "replacement": {"type": "string"},
                },
            },
        },
    },
}


def test_pod_monitors_pass_the_structural_check_and_scrape_named_metrics_ports():
    monitors = _of_kind("PodMonitor")

    assert {m["metadata"]["name"] for m in monitors} == {"salespulse-worker", "salespulse-ingest"}
    for monitor in monitors:
        jsonschema.Draft202012Validator(PODMONITOR_SCHEMA).validate(monitor)
        pods = _pods_selected_by(monitor["spec"]["selector"]["matchLabels"])
        assert pods, f"PodMonitor {monitor['metadata']['name']} selects no pod"
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            assert endpoint["path"] == "/metrics"
            assert all(endpoint["port"] in _named_ports(pod) for pod in pods)


def test_pod_monitors_keep_the_job_names_of_the_compose_scrape_configuration():
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    compose_jobs = {job["job_name"] for job in scrape["scrape_configs"]}

    jobs = {
        relabel["replacement"]
        for monitor in _of_kind("PodMonitor")
        for endpoint in monitor["spec"]["podMetricsEndpoints"]
        for relabel in endpoint.get("relabelings", [])
        if relabel.get("targetLabel") == "job"
    }

    assert jobs == {"salespulse-workers", "salespulse-ingest"}
    assert jobs <= compose_jobs


def test_kustomizations_list_existing_files_and_every_manifest_belongs_to_one():
    listed = set()
    for kustomization in KUSTOMIZATIONS:
        spec = yaml.safe_load(kustomization.read_text())
        for entry in spec.get("resources", []) + spec.get("components", []):
            target = (kustomization.parent / entry).resolve()
            assert target.exists(), f"{kustomization.relative_to(K8S)} lists missing {entry}"
            listed.add(target)

    assert {path.resolve() for path in MANIFEST_FILES} <= listed


def test_the_application_and_the_topics_job_share_namespace_and_image():
    app = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    topics = yaml.safe_load((K8S / "topics" / "kustomization.yaml").read_text())
    namespace = _one("Namespace", app["namespace"])

    assert topics["namespace"] == app["namespace"] == namespace["metadata"]["name"]
    assert topics["images"] == app["images"]
    assert {image["name"] for image in app["images"]} == {
        _container(w)["image"] for w in _workloads()
    }


def test_workload_selectors_match_their_pod_templates():
    for workload in _workloads():
        labels = workload["spec"]["template"]["metadata"]["labels"]
        selector = workload["spec"].get("selector", {}).get("matchLabels")
        if workload["kind"] != "Job":
            assert _selects(selector, labels), workload["metadata"]["name"]
        assert labels["app.kubernetes.io/part-of"] == "salespulse"


def test_services_budgets_and_policies_select_pods_and_reach_their_named_ports():
    for service in _of_kind("Service"):
        pods = _pods_selected_by(service["spec"]["selector"])
        assert len(pods) == 1, f"Service {service['metadata']['name']} selects {len(pods)} pods"
        for port in service["spec"]["ports"]:
            assert _port_number(pods[0], port["targetPort"]) == port["port"]
    for budget in _of_kind("PodDisruptionBudget"):
        pods = _pods_selected_by(budget["spec"]["selector"]["matchLabels"])
        assert len(pods) == 1, budget["metadata"]["name"]
        assert budget["spec"]["maxUnavailable"] < pods[0]["spec"]["replicas"]
    for policy in _of_kind("NetworkPolicy"):
        pods = _pods_selected_by(policy["spec"]["podSelector"]["matchLabels"])
        assert pods, policy["metadata"]["name"]
        for rule in policy["spec"]["ingress"]:
            assert all(p["port"] in _named_ports(pods[0]) for p in rule["ports"])


@pytest.mark.parametrize(
    ("kind", "name", "port"),
    [
        ("StatefulSet", "salespulse-worker", WORKER_PORT),
        ("Deployment", "salespulse-ingest", INGEST_PORT),
    ],
)
def test_ports_and_probes_match_the_settings_defaults(kind, name, port):
    workload = _one(kind, name)
    container = _container(workload)

    assert _named_ports(workload) == {"http": port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert _port_number(workload, container[probe]["httpGet"]["port"]) == port


def test_only_the_open_ingest_metrics_are_announced_to_annotation_based_scrapers():
    # A generic annotation job sends no token (401 from workers) or the same token to every
    # annotated pod of the cluster: workers are scraped by their own job or PodMonitor instead.
    ingest = _one("Deployment", "salespulse-ingest")["spec"]["template"]["metadata"]
    worker = _one("StatefulSet", "salespulse-worker")["spec"]["template"]["metadata"]

    assert ingest["annotations"] == {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(INGEST_PORT),
        "prometheus.io/path": "/metrics",
    }
    assert not any(key.startswith("prometheus.io/") for key in worker.get("annotations", {}))


def test_no_manifest_moves_the_ports_away_from_the_settings_defaults():
    port_variables = {"SALESPULSE_WORKER_WEB_PORT", "SALESPULSE_INGEST_PORT"}
    configured = set(_one("ConfigMap", "salespulse-config")["data"])
    for workload in _workloads():
        configured |= set(_env(_container(workload)))

    assert not configured & port_variables


def test_ingest_and_workers_bind_all_interfaces_in_their_pods():
    ingest = _container(_one("Deployment", "salespulse-ingest"))
    worker = _container(_one("StatefulSet", "salespulse-worker"))

    assert (ingest["args"], worker["args"]) == (["ingest"], ["worker"])
    assert _env(ingest)["SALESPULSE_INGEST_HOST"]["value"] == "0.0.0.0"
    assert _env(worker)["SALESPULSE_WORKER_HOST"]["value"] == "0.0.0.0"
    assert _one("Deployment", "salespulse-ingest")["spec"]["replicas"] == 2


def test_worker_state_claim_is_mounted_at_the_data_dir_with_the_rocksdb_store():
    worker = _one("StatefulSet", "salespulse-worker")
    container = _container(worker)
    env = _env(container)
    [claim] = worker["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    image_data_dir = re.search(r"SALESPULSE_DATA_DIR=(\S+)", DOCKERFILE.read_text()).group(1)

    assert env["SALESPULSE_TABLE_STORE"]["value"] == "rocksdb://"
    assert mounts[claim["metadata"]["name"]] == env["SALESPULSE_DATA_DIR"]["value"]
    assert env["SALESPULSE_DATA_DIR"]["value"] == image_data_dir
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert claim["metadata"]["name"] not in {v["name"] for v in _pod_spec(worker)["volumes"]}
    assert _pod_spec(worker)["securityContext"]["fsGroup"]


def test_each_worker_advertises_its_stable_dns_name_through_the_headless_service():
    worker = _one("StatefulSet", "salespulse-worker")
    headless = _one("Service", worker["spec"]["serviceName"])
    env = _env(_container(worker))

    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["SALESPULSE_WORKER_URL"]["value"] == (
        f"http://$(POD_NAME).{headless['metadata']['name']}.$(POD_NAMESPACE).svc:{WORKER_PORT}"
    )


def test_variable_references_in_the_environment_are_defined_before_use():
    for workload in _workloads():
        defined: set[str] = set()
        for item in _container(workload).get("env", []):
            for reference in re.findall(r"\$\((\w+)\)", item.get("value", "")):
                assert reference in defined, f"{item['name']} uses $({reference}) before it is set"
            defined.add(item["name"])


def test_shared_settings_are_known_settings_with_valid_values(monkeypatch):
    data = _one("ConfigMap", "salespulse-config")["data"]
    for key in list(os.environ):
        if key.startswith("SALESPULSE_"):
            monkeypatch.delenv(key)
    for key, value in data.items():
        monkeypatch.setenv(key, value)

    settings = Settings(_env_file=None)

    assert set(data) <= SETTINGS_VARIABLES
    assert "SALESPULSE_KAFKA_BOOTSTRAP" in data
    assert settings.bootstrap_servers == data["SALESPULSE_KAFKA_BOOTSTRAP"].split(",")
    assert settings.partitions == int(data["SALESPULSE_PARTITIONS"])


def test_containers_set_only_known_salespulse_variables():
    for workload in _workloads():
        container = _container(workload)
        assert container["envFrom"] == [
            {"configMapRef": {"name": "salespulse-config"}},
            {"secretRef": {"name": "salespulse-kafka", "optional": True}},
        ]
        named = {name for name in _env(container) if name.startswith("SALESPULSE_")}
        assert named <= SETTINGS_VARIABLES, named - SETTINGS_VARIABLES


def test_pods_disable_service_links_that_would_collide_with_the_settings():
    # A Service "a-b" gives every pod A_B_PORT=tcp://..., A_B_SERVICE_HOST, ... unless disabled:
    # "salespulse-ingest" would set SALESPULSE_INGEST_PORT and break the ingest settings.
    link_variables = set()
    for service in _of_kind("Service"):
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        link_variables |= {f"{prefix}_PORT", f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT"}

    assert "SALESPULSE_INGEST_PORT" in link_variables & SETTINGS_VARIABLES
    assert all(_pod_spec(w)["enableServiceLinks"] is False for w in _workloads())


TOKENS = [
    ("Deployment", "salespulse-ingest", "SALESPULSE_INGEST_TOKEN", "salespulse-ingest-token"),
    (
        "StatefulSet",
        "salespulse-worker",
        "SALESPULSE_WORKER_READ_TOKEN",
        "salespulse-worker-read-token",
    ),
]


@pytest.mark.parametrize(("kind", "name", "variable", "secret"), TOKENS)
def test_each_token_is_required_from_a_secret_that_is_not_committed(kind, name, variable, secret):
    token = _env(_container(_one(kind, name)))[variable]

    assert not _of_kind("Secret")
    assert "value" not in token
    assert token["valueFrom"]["secretKeyRef"] == {"name": secret, "key": "token", "optional": False}
    assert variable not in _one("ConfigMap", "salespulse-config")["data"]
    for workload in _workloads():
        if workload["metadata"]["name"] != name:
            assert variable not in _env(_container(workload))


def test_the_worker_pod_monitor_scrapes_with_the_secret_the_workers_read_their_token_from():
    worker = _env(_container(_one("StatefulSet", "salespulse-worker")))
    secret = worker["SALESPULSE_WORKER_READ_TOKEN"]["valueFrom"]["secretKeyRef"]
    [endpoint] = _one("PodMonitor", "salespulse-worker")["spec"]["podMetricsEndpoints"]

    assert endpoint["authorization"].get("type", "Bearer") == "Bearer"
    assert endpoint["authorization"]["credentials"] == {"name": secret["name"], "key": "token"}


def test_the_plain_prometheus_worker_job_finds_the_workers_through_their_headless_service():
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "kubernetes.yml").read_text())
    [job] = [j for j in scrape["scrape_configs"] if j["job_name"] == "salespulse-workers"]
    [discovery] = job["dns_sd_configs"]
    worker = _one("StatefulSet", "salespulse-worker")
    headless = _one("Service", worker["spec"]["serviceName"])
    secret = _env(_container(worker))["SALESPULSE_WORKER_READ_TOKEN"]["valueFrom"]["secretKeyRef"]

    assert discovery["names"] == [f"{headless['metadata']['name']}.{_namespace()}.svc"]
    assert (discovery["type"], discovery["port"]) == ("A", WORKER_PORT)
    assert job["authorization"]["credentials_file"].endswith(f"/{secret['name']}/token")


def _namespace() -> str:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())["namespace"]


def _expanded(value: str, pod: str) -> str:
    """An env value as the kubelet expands it in pod ``pod`` of the application's namespace."""
    return value.replace("$(POD_NAME)", pod).replace("$(POD_NAMESPACE)", _namespace())


@pytest.mark.parametrize(
    "foreign_host",
    [
        "evil.example.com",
        "127.0.0.1",
        "salespulse-ingest.salespulse.svc",
        "salespulse-worker-0.evil.example.com",
        "salespulse-worker-0.salespulse-worker-headless.other-namespace.svc",
        "x.salespulse-worker-0.salespulse-worker-headless.salespulse.svc",
    ],
)
def test_workers_forward_reads_to_every_pod_of_the_stateful_set_and_to_no_other_host(
    foreign_host,
):
    worker = _one("StatefulSet", "salespulse-worker")
    env = _env(_container(worker))
    partitions = int(_one("ConfigMap", "salespulse-config")["data"]["SALESPULSE_PARTITIONS"])
    pods = [f"{worker['metadata']['name']}-{ordinal}" for ordinal in range(partitions)]
    urls = [_expanded(env["SALESPULSE_WORKER_URL"]["value"], pod) for pod in pods]

    for pod in pods:
        patterns = _expanded(env["SALESPULSE_WORKER_PEER_HOSTS"]["value"], pod)
        peers = PeerHosts(Settings(_env_file=None, worker_peer_hosts=patterns).peer_host_patterns)
        assert all(peers.allows(url) for url in urls)
        assert not peers.allows(f"http://{foreign_host}:{WORKER_PORT}")


def test_every_kafka_client_pod_can_take_tls_files_from_the_same_optional_secret():
    for workload in _workloads():
        volumes = {v["name"]: v for v in _pod_spec(workload)["volumes"]}
        mounts = {m["name"]: m for m in _container(workload)["volumeMounts"]}

        assert volumes["kafka-tls"]["secret"] == {
            "secretName": "salespulse-kafka-tls",
            "optional": True,
        }
        assert mounts["kafka-tls"]["mountPath"] == "/etc/salespulse/kafka-tls"
        assert mounts["kafka-tls"]["readOnly"] is True


def test_workers_do_not_outnumber_the_partitions():
    partitions = int(_one("ConfigMap", "salespulse-config")["data"]["SALESPULSE_PARTITIONS"])

    assert 1 <= _one("StatefulSet", "salespulse-worker")["spec"]["replicas"] <= partitions


def test_pods_meet_the_restricted_pod_security_standard_the_namespace_enforces():
    namespace = _of_kind("Namespace")[0]["metadata"]["labels"]

    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"
    for workload in _workloads():
        pod = _pod_spec(workload)["securityContext"]
        container = _container(workload)
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] and container["resources"]["limits"]


def _kustomize() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def test_kustomize_renders_the_application_with_its_components_and_the_topics_job(tmp_path):
    assert _kustomize() is not None, "needs kustomize or kubectl (kubectl kustomize) on PATH"
    # Enable the opt-in components the way docs/DEPLOY.md says, on a copy of deploy/k8s.
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    app = yaml.safe_load((copy / "kustomization.yaml").read_text())
    app["components"] = ["components/podmonitor", "components/network-policy"]
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(app))
    [image] = app["images"]
    rendered = []
    for root in (copy, copy / "topics"):
        result = subprocess.run(
            [*_kustomize(), str(root)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr
        rendered += [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    assert sorted(_id_of(doc) for doc in rendered) == sorted(_id_of(doc) for _, doc in MANIFESTS)
    for doc in rendered:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == app["namespace"], _id_of(doc)
        if doc["kind"] in WORKLOAD_KINDS:
            assert _container(doc)["image"] == f"{image['newName']}:{image['newTag']}"
        if doc["apiVersion"] != OPERATOR_API:
            kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)


def _id_of(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"
