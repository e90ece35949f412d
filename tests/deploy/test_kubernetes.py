"""deploy/k8s, rendered by kustomize and checked with no cluster and no download:
every resource against the Kubernetes schemas (kubernetes-validate ships them)
or, for KEDA's and Strimzi's, against deploy/k8s/schemas; then the rules
docs/operations.md promises (probes, migrations as the owner role, secrets by
reference and complete, scaling bounded by partitions, who may reach what)."""

from __future__ import annotations

import copy
import importlib
import json
import os
import secrets
import subprocess
import sys
from functools import cache

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError

from stack import kustomize as kustomize_tool
from stack.config import SERVICES, repo_root
from stack.kafka_access import CONSUMES, GROUPS
from stack.strimzi import render as render_strimzi

K8S = repo_root() / "deploy" / "k8s"
# The oldest Kubernetes the manifests are for (the preStop sleep action is on by
# default from 1.30) and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.31", kubernetes_validate.latest_version())
OVERLAYS = ("dev", "prod")
CUSTOM_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "triggerauthentication.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafkatopic.json",
    ("kafka.strimzi.io/v1beta2", "KafkaUser"): "kafkauser.json",
}
WORKLOADS = ("Deployment", "Job", "CronJob")
PORTS = {"gateway": 8000, "payments": 8101, "ledger": 8102, "payouts": 8103, "notifications": 8104}
STRIMZI_PARTITIONS = 6


@cache
def custom_schema(filename: str) -> dict:
    return json.loads((K8S / "schemas" / filename).read_text())


def schema_problems(resource: dict) -> list[str]:
    """Why `resource` is not a valid resource of its kind, as messages (none: valid)."""
    where = f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"
    if filename := CUSTOM_SCHEMAS.get((resource.get("apiVersion"), resource.get("kind"))):
        validator = jsonschema.Draft202012Validator(custom_schema(filename))
        return [f"{where}: {error.json_path}: {error.message}" for error in validator.iter_errors(resource)]
    problems = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except (kubernetes_validate.ValidationError, kubernetes_validate.SchemaNotFoundError) as error:
            problems.append(f"{where} (Kubernetes {version}): {error}")
    return problems


def pod_spec(workload: dict) -> dict:
    spec = workload["spec"]
    return (spec["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else spec)["template"]["spec"]


def pod_labels(workload: dict) -> dict:
    spec = workload["spec"]
    template = (spec["jobTemplate"]["spec"] if workload["kind"] == "CronJob" else spec)["template"]
    return template["metadata"]["labels"]


def workload_problems(workload: dict) -> list[str]:
    """What the schemas allow but a Callastar workload must not do."""
    where = f"{workload['kind']}/{workload['metadata']['name']}"
    problems = []
    pod = pod_spec(workload)
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        problems.append(f"{where}: may run as root")
    for container in pod["containers"]:
        image = container.get("image", "")
        if ":" not in image and "@" not in image:
            problems.append(f"{where}: container {container['name']} has no pinned image ({image or 'none'})")
        resources = container.get("resources", {})
        for kind in ("requests", "limits"):
            if set(resources.get(kind, {})) != {"cpu", "memory"}:
                problems.append(f"{where}: container {container['name']} lacks cpu and memory {kind}")
    return problems


@pytest.fixture(scope="module")
def rendered(kustomize) -> dict[str, list[dict]]:
    return {overlay: kustomize_tool.build(kustomize, K8S / "overlays" / overlay) for overlay in OVERLAYS}


def of_kind(resources: list[dict], kind: str) -> dict[str, dict]:
    return {r["metadata"]["name"]: r for r in resources if r["kind"] == kind}


def workloads(resources: list[dict]) -> list[dict]:
    return [r for r in resources if r["kind"] in WORKLOADS]


def strimzi_resources() -> list[dict]:
    return [r for r in yaml.safe_load_all((K8S / "strimzi" / "resources.yaml").read_text()) if r]


# --- the check itself, and that it fails on broken files --------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_resource_matches_its_schema(rendered, overlay):
    problems = [problem for resource in rendered[overlay] for problem in schema_problems(resource)]

    assert problems == []
    assert {r["kind"] for r in rendered[overlay]} >= {
        "Deployment", "Job", "CronJob", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler",
        "ScaledObject", "TriggerAuthentication", "NetworkPolicy", "ConfigMap"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_workload_keeps_the_rules(rendered, overlay):
    assert [problem for w in workloads(rendered[overlay]) for problem in workload_problems(w)] == []


def test_the_strimzi_overlay_matches_its_schemas_and_the_local_access_rules(kustomize):
    committed = (K8S / "strimzi" / "resources.yaml").read_text()
    built = kustomize_tool.build(kustomize, K8S / "strimzi")

    assert committed == render_strimzi(STRIMZI_PARTITIONS), "run: python -m stack strimzi > deploy/k8s/strimzi/resources.yaml"
    assert [problem for resource in built for problem in schema_problems(resource)] == []
    assert {resource["metadata"]["namespace"] for resource in built} == {"kafka"}


def test_a_deployment_with_a_word_for_replicas_fails(rendered):
    broken = copy.deepcopy(of_kind(rendered["prod"], "Deployment")["payments"])
    broken["spec"]["replicas"] = "two"

    assert any("'two' is not of type 'integer'" in problem for problem in schema_problems(broken))


def test_a_deployment_with_a_misspelt_field_fails(rendered):
    broken = copy.deepcopy(of_kind(rendered["prod"], "Deployment")["payments"])
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"httpGet": {"path": "/ready", "port": 1}}

    assert schema_problems(broken) != []


def test_a_container_without_an_image_fails(rendered):
    broken = copy.deepcopy(of_kind(rendered["prod"], "Deployment")["ledger"])
    del broken["spec"]["template"]["spec"]["containers"][0]["image"]

    # The Kubernetes schema lets a controller default the image; our rule does not.
    assert workload_problems(broken) == ["Deployment/ledger: container ledger has no pinned image (none)"]


def test_a_scaled_object_with_an_unknown_field_or_kafka_parameter_fails(rendered):
    scaled = of_kind(rendered["prod"], "ScaledObject")["ledger"]
    misspelt = copy.deepcopy(scaled)
    misspelt["spec"]["maxReplicas"] = misspelt["spec"].pop("maxReplicaCount")
    wrong_parameter = copy.deepcopy(scaled)
    wrong_parameter["spec"]["triggers"][0]["metadata"]["lagTreshold"] = "10"

    assert schema_problems(scaled) == []
    assert any("maxReplicas" in problem for problem in schema_problems(misspelt))
    assert any("lagTreshold" in problem for problem in schema_problems(wrong_parameter))


# --- what the manifests promise ---------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_is_probed_on_ready_and_health_and_has_a_disruption_budget(rendered, overlay):
    deployments = of_kind(rendered[overlay], "Deployment")
    budgets = of_kind(rendered[overlay], "PodDisruptionBudget")

    assert set(deployments) == set(PORTS)
    for name, deployment in deployments.items():
        (container,) = pod_spec(deployment)["containers"]
        assert container["ports"][0] == {"name": "http", "containerPort": PORTS[name]}
        # the gateway serves /metrics on a port of its own (Settings.metrics_port), the services on theirs
        assert container["ports"][1:] == ([{"name": "metrics", "containerPort": 8009}] if name == "gateway" else [])
        assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
        assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
        selector = budgets[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels(deployment).items()
        assert budgets[name]["spec"]["maxUnavailable"] == 1


def test_the_deploy_steps_select_what_they_say(rendered):
    """docs/operations.md applies in three steps by the component label: what has none
    (configuration, policies, autoscalers), the migrations, then everything."""
    component = {(r["kind"], r["metadata"]["name"]): r["metadata"].get("labels", {}).get("app.kubernetes.io/component")
                 for r in rendered["prod"]}

    assert {kind for (kind, _), label in component.items() if label is None} == {
        "ConfigMap", "ServiceAccount", "NetworkPolicy", "HorizontalPodAutoscaler", "ScaledObject",
        "TriggerAuthentication"}
    assert {name for (kind, name), label in component.items() if label == "migration"} == {
        f"{svc}-migrate" for svc in SERVICES}


def test_every_probed_path_is_a_route_of_that_app(rendered):
    for name, deployment in of_kind(rendered["prod"], "Deployment").items():
        (container,) = pod_spec(deployment)["containers"]
        probed = {container[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
        settings = importlib.import_module(f"{name}.settings").Settings()  # the test deployment's
        app = importlib.import_module(f"{name}.app").create_app(settings)

        assert probed <= {route.path for route in app.routes}, name


def test_migrations_run_in_a_job_per_database_as_the_owner_role_and_nowhere_else(rendered):
    jobs = of_kind(rendered["prod"], "Job")
    assert set(jobs) == {f"{svc}-migrate" for svc in SERVICES}
    for resource in workloads(rendered["prod"]):
        for container in pod_spec(resource)["containers"]:
            owner_secrets = {e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                             if "valueFrom" in e and e["valueFrom"]["secretKeyRef"]["name"].endswith("-migration")}
            if resource["kind"] == "Job":
                svc = resource["metadata"]["name"].removesuffix("-migrate")
                assert container["command"] == ["python", "-m", svc, "migrate"]
                assert owner_secrets == {f"callastar-{svc}-migration"}
            else:
                assert owner_secrets == set(), f"{resource['metadata']['name']} holds a database owner's password"


def _secret_value(key: str) -> str:
    if key.endswith("DATABASE_URL"):
        role = "owner" if "MIGRATION" in key else "runtime"
        return f"postgresql+asyncpg://{role}:{secrets.token_urlsafe(24)}@db.internal:5432/callastar"
    return secrets.token_urlsafe(36)


def test_no_secret_value_is_written_in_the_manifests(rendered):
    for overlay in OVERLAYS:
        assert of_kind(rendered[overlay], "Secret") == {}
        config = of_kind(rendered[overlay], "ConfigMap")["callastar-config"]["data"]
        assert not [key for key in config if any(word in key for word in ("SECRET", "PASSWORD", "_KEY", "DATABASE_URL"))]
        for resource in workloads(rendered[overlay]):
            for container in pod_spec(resource)["containers"]:
                for variable in container.get("env", []):
                    literal = "value" in variable
                    assert not (literal and variable["name"] != "CALLASTAR_KAFKA_USERNAME"), variable
                    if not literal:  # a Secret's key is the variable it becomes
                        assert variable["valueFrom"]["secretKeyRef"]["key"] == variable["name"]


def settings_problem(container: dict, config: dict[str, str], monkeypatch) -> str | None:
    """Why the container's service would refuse to start in production with the environment
    it is given (the ConfigMap, its literals, a random value for each secret it references)."""
    settings = importlib.import_module(f"{container['command'][2]}.settings").Settings
    with monkeypatch.context() as env:
        for variable in [k for k in os.environ if k.startswith("CALLASTAR_")]:
            env.delenv(variable)
        for key, value in config.items():
            env.setenv(key, value)
        for variable in container["env"]:
            env.setenv(variable["name"], variable.get("value") or _secret_value(variable["name"]))
        try:
            settings()
        except ValidationError as error:
            return str(error)
    return None


def test_every_workload_starts_in_production_with_the_secrets_it_references(rendered, monkeypatch):
    config = of_kind(rendered["prod"], "ConfigMap")["callastar-config"]["data"]
    problems = {resource["metadata"]["name"]: settings_problem(container, config, monkeypatch)
                for resource in workloads(rendered["prod"]) for container in pod_spec(resource)["containers"]}

    assert {name: problem for name, problem in problems.items() if problem} == {}
    assert len(problems) == 12  # five Deployments, four migrations, three checks


def test_a_workload_missing_a_secret_reference_would_not_start(rendered, monkeypatch):
    config = of_kind(rendered["prod"], "ConfigMap")["callastar-config"]["data"]
    container = copy.deepcopy(pod_spec(of_kind(rendered["prod"], "Deployment")["payments"])["containers"][0])
    container["env"] = [v for v in container["env"] if v["name"] != "CALLASTAR_STRIPE_API_KEY"]

    assert "CALLASTAR_STRIPE_API_KEY is missing" in settings_problem(container, config, monkeypatch)


def test_consumers_scale_on_their_group_lag_up_to_the_partitions_of_their_topics(rendered):
    resources = rendered["prod"]
    config = of_kind(resources, "ConfigMap")["callastar-config"]["data"]
    partitions = {t["spec"]["topicName"]: t["spec"]["partitions"] for t in strimzi_resources() if t["kind"] == "KafkaTopic"}
    scaled = of_kind(resources, "ScaledObject")

    assert set(scaled) == set(SERVICES)
    for svc, scaled_object in scaled.items():
        (trigger,) = scaled_object["spec"]["triggers"]
        assert scaled_object["spec"]["scaleTargetRef"] == {"name": svc}
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == GROUPS[svc]
        assert trigger["metadata"]["bootstrapServers"] == config["CALLASTAR_KAFKA_BOOTSTRAP_SERVERS"]
        # More members than a topic has partitions would sit idle on it.
        assert scaled_object["spec"]["maxReplicaCount"] == min(partitions[t] for t in CONSUMES[svc])
    (gateway,) = of_kind(resources, "HorizontalPodAutoscaler").values()
    assert gateway["spec"]["scaleTargetRef"]["name"] == "gateway"
    assert [m["resource"]["name"] for m in gateway["spec"]["metrics"]] == ["cpu"]


def test_the_scheduled_checks_run_commands_the_services_have(rendered):
    cronjobs = of_kind(rendered["prod"], "CronJob")
    commands = {name: pod_spec(job)["containers"][0]["command"] for name, job in cronjobs.items()}

    assert sorted(c[2:] for c in commands.values()) == [
        ["ledger", "check"], ["ledger", "verify-journal"], ["payouts", "verify-audit"]]
    for service in {command[2] for command in commands.values()}:
        usage = subprocess.run([sys.executable, "-m", service, "--help"], capture_output=True, text=True,
                               timeout=60).stdout
        assert all(command[3] in usage for command in commands.values() if command[2] == service), usage


def _selects(selector: dict, labels: dict) -> bool:
    return selector.get("matchLabels", {}).items() <= labels.items()


def test_only_the_gateway_is_reachable_and_each_workload_reaches_only_what_it_needs(rendered):
    resources = rendered["prod"]
    policies = of_kind(resources, "NetworkPolicy")
    default_deny = policies["default-deny"]["spec"]
    assert default_deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}

    def allowed(labels: dict, direction: str) -> set[str]:
        return {name for name, policy in policies.items() if name != "default-deny"
                and direction in policy["spec"]["policyTypes"] and _selects(policy["spec"]["podSelector"], labels)}

    egress = {"gateway": {"gateway-to-services", "kafka-egress"},  # and each Deployment: traces-egress
              "payments": {"kafka-egress", "payments-database-egress", "stripe-egress"},
              "ledger": {"kafka-egress", "ledger-database-egress"},
              "payouts": {"kafka-egress", "payouts-database-egress", "stripe-egress"},
              "notifications": {"kafka-egress", "notifications-database-egress", "smtp-egress"}}
    for resource in workloads(resources):
        labels = pod_labels(resource)
        svc = labels["app.kubernetes.io/name"]
        if resource["kind"] == "Deployment":
            expected_egress = egress[svc] | {"traces-egress"}
            expected_ingress = {"gateway-ingress" if svc == "gateway" else "services-from-gateway",
                                "metrics-from-prometheus"}
        else:  # migrations and checks: their database only, and nobody calls them
            expected_egress, expected_ingress = {f"{svc}-database-egress"}, set()
        assert allowed(labels, "Egress") == {"dns"} | expected_egress, resource["metadata"]["name"]
        assert allowed(labels, "Ingress") == expected_ingress, resource["metadata"]["name"]
    # Only the gateway's ingress rule leaves the source open; the services take the gateway only.
    open_ingress = [n for n, p in policies.items() for rule in p["spec"].get("ingress", []) if "from" not in rule]
    assert open_ingress == ["gateway-ingress"]
    assert policies["services-from-gateway"]["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "gateway", "app.kubernetes.io/component": "gateway"}}}]
    # Prometheus reaches the metrics ports and nothing else; the gateway's public port is not among them.
    [scrape] = policies["metrics-from-prometheus"]["spec"]["ingress"]
    assert {port["port"] for port in scrape["ports"]} == {8009, 8101, 8102, 8103, 8104}
