"""Deploy files, checked with what runs here: YAML, required fields, compose and k8s schemas.

No Docker engine and no cluster on the build machine, so nothing here starts a container:
`docker compose config` (or docker-compose) validates the compose file without an engine,
kubernetes-validate checks the manifests against the Kubernetes schemas it ships.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).parents[2] / "deploy"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_dockerfile_is_multi_stage_non_root_with_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2
    assert "slim" in text
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n?.*?/healthz", text, re.M)
    assert (DEPLOY / "Dockerfile.dockerignore").exists()


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_has_the_store_the_api_one_aggregator_prometheus_and_grafana() -> None:
    services = compose()["services"]
    assert set(services) == {"redis", "api", "aggregator", "prometheus", "grafana"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--maxmemory-policy noeviction" in redis_cmd
    api_cmd = services["api"]["command"]
    assert "--no-aggregator" in api_cmd
    assert int(api_cmd[api_cmd.index("--workers") + 1]) > 1
    assert services["aggregator"]["deploy"]["replicas"] == 1
    assert services["aggregator"]["command"][:2] == ["visitor-stats", "aggregator"]
    assert any("prometheus.yml" in arg for arg in services["prometheus"]["command"])
    mounts = " ".join(services["grafana"]["volumes"])
    assert "./grafana/provisioning" in mounts and "./grafana/dashboards" in mounts
    assert set(compose()["volumes"]) >= {"redis-data", "prometheus-data", "grafana-data"}


def test_compose_mounts_exist_and_prometheus_scrapes_both_services() -> None:
    for service in compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    assert targets == {"api:8000", "aggregator:9108"}
    assert config["rule_files"] == ["alerts.yml"]


def _compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def test_docker_compose_config_accepts_the_file() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor docker-compose is installed")
    env = {**os.environ, "GRAFANA_ADMIN_PASSWORD": "a-real-password-for-the-check"}
    checked = subprocess.run(
        [*cli, "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # And it refuses to start Grafana with no admin password chosen.
    env.pop("GRAFANA_ADMIN_PASSWORD")
    refused = subprocess.run(
        [*cli, "-f", str(DEPLOY / "compose.yaml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0


def k8s() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_all(path):
            found[(doc["kind"], doc["metadata"]["name"])] = doc
    return found


def test_k8s_api_has_replicas_and_probes_and_the_aggregator_runs_once() -> None:
    docs = k8s()
    api = docs[("Deployment", "visitor-stats-api")]["spec"]
    assert api["replicas"] >= 2
    container = api["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "--no-aggregator" in container["args"]
    aggregator = docs[("Deployment", "visitor-stats-aggregator")]["spec"]
    assert aggregator["replicas"] == 1
    assert aggregator["strategy"]["type"] == "Recreate"
    assert ("Service", "visitor-stats") in docs
    assert ("ConfigMap", "visitor-stats") in docs
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).exists()
    assert "Redis" in (DEPLOY / "k8s" / "README.md").read_text()


@pytest.mark.skipif(
    importlib.util.find_spec("kubernetes_validate") is None,
    reason="kubernetes-validate is not installed",
)
def test_k8s_manifests_match_the_kubernetes_schemas() -> None:
    import kubernetes_validate

    for (kind, name), doc in k8s().items():
        try:
            kubernetes_validate.validate(doc, "1.31.0", strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{kind}/{name}: {exc.message}")


# -- the data directory and the proxies (issue 12) ------------------------------------------
DATA_DIR = "VISITOR_STATS_DATA_DIR"
PROXIES = "VISITOR_STATS_TRUSTED_PROXIES"
DEFAULT_PROXIES = ["127.0.0.1/8", "::1/128"]  # counter/settings.py: only a proxy on loopback


def image_env() -> dict[str, str]:
    """The ENV of the Dockerfile's final stage (``KEY=value`` pairs, continued lines)."""
    final = (DEPLOY / "Dockerfile").read_text().rsplit("\nFROM ", 1)[1]
    env: dict[str, str] = {}
    for block in re.findall(r"^ENV ((?:.*\\\n)*.*)$", final, re.M):
        for pair in block.replace("\\\n", " ").split():
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def container_env(container: dict[str, Any], docs: dict[tuple[str, str], Any]) -> dict[str, str]:
    """What a k8s container sees: the image's ENV, its ConfigMaps (envFrom), its own env."""
    env = dict(image_env())
    for source in container.get("envFrom", []):
        env.update(docs[("ConfigMap", source["configMapRef"]["name"])]["data"])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def deployments() -> list[dict[str, Any]]:
    return [doc for (kind, _), doc in k8s().items() if kind == "Deployment"]


def test_k8s_aggregator_keeps_its_data_dir_on_a_persistent_volume() -> None:
    docs = k8s()
    data_dir = docs[("ConfigMap", "visitor-stats")]["data"][DATA_DIR]
    spec = docs[("Deployment", "visitor-stats-aggregator")]["spec"]
    pod = spec["template"]["spec"]
    [container] = pod["containers"]
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == data_dir]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    claim = docs[("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"]
    # One pod mounts a ReadWriteOnce volume: a rolling update's new pod could not start.
    assert spec["strategy"]["type"] == "Recreate"
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert "pvc.yaml" in kustomization["resources"]


def test_every_data_dir_in_the_shipped_files_is_a_writable_mounted_volume() -> None:
    image = image_env()
    assert image[DATA_DIR] in re.findall(
        r'^VOLUME \["([^"]+)"\]', (DEPLOY / "Dockerfile").read_text(), re.M
    )
    docs = k8s()
    checked = 0
    for deployment in deployments():
        pod = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            data_dir = container_env(container, docs).get(DATA_DIR)
            if data_dir is None:
                continue
            where = f"{deployment['metadata']['name']}/{container['name']}"
            mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == data_dir]
            assert mounts, f"{where}: nothing mounted at {DATA_DIR}={data_dir}"
            assert not mounts[0].get("readOnly", False), where
            volume = volumes[mounts[0]["name"]]
            assert "emptyDir" in volume or "persistentVolumeClaim" in volume, where
            if "persistentVolumeClaim" in volume:
                assert "fsGroup" in pod["securityContext"], f"{where}: volume not writable"
            checked += 1
    assert checked == 2  # the API and the aggregator
    services = compose()["services"]
    named = set(compose()["volumes"])
    for name, service in services.items():
        data_dir = service.get("environment", {}).get(DATA_DIR)
        if data_dir is None:
            continue
        targets = {}
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            targets[target] = (source, mode)
        assert data_dir in targets, f"compose {name}: no volume at {DATA_DIR}={data_dir}"
        source, mode = targets[data_dir]
        assert source in named, f"compose {name}: {source} is not a named volume"
        assert "ro" not in mode, name
    assert {"api", "aggregator"} <= {
        n for n, s in services.items() if DATA_DIR in s.get("environment", {})
    }


def test_trusted_proxies_are_set_to_real_networks_in_compose_and_the_configmap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from counter.settings import Settings

    services = compose()["services"]
    subnets = [
        ipaddress.ip_network(pool["subnet"])
        for pool in compose()["networks"]["default"]["ipam"]["config"]
    ]
    configmap = k8s()[("ConfigMap", "visitor-stats")]["data"]
    for where, raw in (
        ("compose api", services["api"]["environment"].get(PROXIES)),
        ("ConfigMap", configmap.get(PROXIES)),
    ):
        assert raw is not None, f"{where}: {PROXIES} is not set"
        monkeypatch.setenv(PROXIES, raw)  # read as the service reads it
        trusted = Settings().trusted_proxies
        assert trusted != DEFAULT_PROXIES, f"{where}: only loopback, the default"
        if where.startswith("compose"):
            networks = [ipaddress.ip_network(n, strict=False) for n in trusted]
            for subnet in subnets:  # the project's own network, where its proxies sit
                assert any(
                    subnet.version == n.version and subnet.subnet_of(n)  # type: ignore[arg-type]
                    for n in networks
                ), f"compose network {subnet} is not trusted"
    for text in (
        (DEPLOY / "k8s" / "README.md").read_text(),
        (DEPLOY.parent / "README.md").read_text(),
    ):
        assert PROXIES in text
