"""Airflow 3.3.2 (its own venv, SQLite metadata, AIRFLOW_HOME in a temporary directory) with
infra/airflow/dags: every DAG imports with no error, and `airflow dags test` runs the health
DAG against the native stack (Kafka, Connect + Debezium, MinIO of infra/local/stack.sh) and a
live `finlake serve`, with a stopped connector that it must detect and resume, and the data
quality DAG (finlake verify plus expectations over Flight SQL), once on clean data and once
with a bad row injected into the source."""
import json
import os
import pathlib
import subprocess
import time
import urllib.request

import pytest

from conftest import CACHE, FINLAKE_BIN, MASK_KEY, ROOT, finlake, flight_query, wait_for

VENV = pathlib.Path(os.environ.get("FINLAKE_AIRFLOW_VENV", CACHE / "venv-airflow"))
DAGS = ROOT / "infra/airflow/dags"
EXPECTED_DAGS = {"finance_platform_health", "finance_maintenance", "finance_data_quality", "finance_backfill"}
CONNECTOR = "finance-ops-test"


@pytest.fixture(scope="module")
def airflow(workdir):
    if not (VENV / "bin/airflow").exists():
        pytest.fail(f"no Airflow in {VENV}: run `make airflow-install`")
    home = workdir / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FINLAKE_"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(DAGS), AIRFLOW__CORE__LOAD_EXAMPLES="false",
               AIRFLOW__LOGGING__LOGGING_LEVEL="INFO", NO_COLOR="1",
               FINLAKE_DEMO="1")  # the tasks' finlake accepts the test mask key

    def run(*args, extra=None, timeout=600):
        e = dict(env, **(extra or {}))
        return subprocess.run([VENV / "bin/airflow", *args], env=e, capture_output=True, text=True, timeout=timeout)
    for args in (("db", "migrate"), ("dags", "reserialize")):
        res = run(*args)
        assert res.returncode == 0, f"airflow {' '.join(args)}:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return {"env": env, "run": run}


def test_every_dag_imports(airflow):
    code = ("import json\nfrom airflow.dag_processing.dagbag import DagBag\n"
            f"b = DagBag(dag_folder={str(DAGS)!r})\n"
            "print(json.dumps({'errors': {k: v[-500:] for k, v in b.import_errors.items()},"
            " 'dags': {d: sorted(t.task_id for t in b.dags[d].tasks) for d in b.dag_ids}}))")
    res = subprocess.run([VENV / "bin/python", "-c", code], env=airflow["env"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["errors"] == {}
    assert set(out["dags"]) == EXPECTED_DAGS
    assert out["dags"]["finance_platform_health"] == ["connector", "finlake_serve", "kafka", "minio",
                                                     "source_database"]
    assert out["dags"]["finance_maintenance"] == ["maintain", "status"]
    # Hosts come from Variables, never from the DAG files.
    for f in DAGS.rglob("*.py"):
        assert "127.0.0.1" not in f.read_text() and "localhost" not in f.read_text(), f


@pytest.fixture(scope="module")
def stack(workdir, source):
    """The native stack in its own FINLAKE_STACK_DIR and a Debezium connector on the source."""
    d = workdir / "stack"
    env = dict(os.environ, FINLAKE_STACK_DIR=str(d))
    env.pop("FINLAKE_SOURCE_URL", None)
    res = subprocess.run(["bash", ROOT / "infra/local/stack.sh", "up"], env=env, capture_output=True, text=True,
                         timeout=900)
    try:
        assert res.returncode == 0, f"stack.sh up:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
        state = dict(line.split("=", 1) for line in (d / "stack.env").read_text().splitlines()
                     if "=" in line and not line.startswith("#"))
        reg = subprocess.run(["python3", ROOT / "infra/connect/register.py", "--name", CONNECTOR],
                             env=dict(env, FINLAKE_SOURCE_URL=source["url"], FINLAKE_CONNECT_URL=state["CONNECT_URL"],
                                      FINLAKE_KAFKA_BROKERS=state["KAFKA_BOOTSTRAP"],
                                      FINLAKE_KAFKA_TOPIC_PREFIX="opstest", FINLAKE_DEBEZIUM_SERVER_ID="5471"),
                             capture_output=True, text=True, timeout=300)
        assert reg.returncode == 0, f"register.py:\n{reg.stdout}\n{reg.stderr}"
        yield state
    finally:
        subprocess.run(["bash", ROOT / "infra/local/stack.sh", "down"], env=env, capture_output=True, timeout=300)


def dag_vars(serve, source, stack=None, **override):
    v = {
        "finlake_bin": str(FINLAKE_BIN),
        "finlake_state_dir": str(source["state"]),
        "finlake_source_url": source["url"],
        "finlake_lake_uri": str(serve["lake"]),
        "finlake_mask_key": MASK_KEY,
        "finlake_serve_http": serve["http"],
        "finlake_flight": serve["flight"],
        "finlake_flight_user": serve["user"],
        "finlake_flight_password": serve["password"],
        "finlake_max_lag_seconds": "120",
    }
    if stack:
        v.update(finlake_kafka_brokers=stack["KAFKA_BOOTSTRAP"], finlake_connect_url=stack["CONNECT_URL"],
                 finlake_connector=CONNECTOR, finlake_s3_endpoint=stack["S3_ENDPOINT"])
    v.update(override)
    return {f"AIRFLOW_VAR_{k.upper()}": val for k, val in v.items()}


def connect(stack, method, path):
    req = urllib.request.Request(stack["CONNECT_URL"] + path, method=method)
    with urllib.request.urlopen(req, timeout=15) as r:
        raw = r.read().decode()
        return json.loads(raw) if raw else None


def test_health_dag_resumes_a_stopped_connector(airflow, serve, source, stack):
    connect(stack, "PUT", f"/connectors/{CONNECTOR}/stop")
    wait_for("connector STOPPED", lambda: connect(stack, "GET", f"/connectors/{CONNECTOR}/status")
             ["connector"]["state"] == "STOPPED", 60)
    res = airflow["run"]("dags", "test", "finance_platform_health", extra=dag_vars(serve, source, stack))
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    assert "connector STOPPED" in out and "resumed the STOPPED connector" in out, out[-6000:]
    assert "after repair" in out
    status = connect(stack, "GET", f"/connectors/{CONNECTOR}/status")
    assert status["connector"]["state"] == "RUNNING" and all(t["state"] == "RUNNING" for t in status["tasks"])
    for line in ("source answers: ", "APIs", "MinIO ", "live and ready", "ingest lag"):
        assert line in out, line


def test_health_dag_fails_with_the_reason(airflow, serve, source, stack):
    res = airflow["run"]("dags", "test", "finance_platform_health",
                         extra=dag_vars(serve, source, stack, finlake_s3_endpoint="http://127.0.0.1:9"))
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "GET http://127.0.0.1:9/minio/health/live" in out and "Connection refused" in out, out[-4000:]


def caught_up(serve, source):
    """Waits until finlake serve has every source transaction and card change."""
    db = finlake("db", "status", env=source["env"]).stdout
    want = int(db.split("transactions")[1].split()[0])
    wait_for("serve caught up with the source", lambda: flight_query(
        serve, "SELECT count(*) AS n FROM bronze.transactions")[0]["n"] == want, 120, interval=1)


def mariadb(source, sql):
    import urllib.parse
    u = urllib.parse.urlsplit(source["url"])
    res = subprocess.run(["mariadb", "--protocol=TCP", "-h", u.hostname, "-P", str(u.port), "-u",
                          urllib.parse.unquote(u.username), u.path.lstrip("/"), "-e", sql],
                         env=dict(os.environ, MYSQL_PWD=urllib.parse.unquote(u.password or "")),
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_quality_dag_passes_then_names_a_failed_expectation(airflow, serve, source, procs):
    procs.stop(serve["simulate"])      # verify compares a still source with the lake
    caught_up(serve, source)
    extra = dag_vars(serve, source)
    res = airflow["run"]("dags", "test", "finance_data_quality", extra=extra)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-6000:]
    # The results are a Delta table finlake serve serves (gold.data_quality).
    rows = wait_for("gold.data_quality served", lambda: flight_query(
        serve, "SELECT \"check\", ok, detail FROM gold.data_quality"), 60)
    checks = {r["check"]: r["ok"] for r in rows}
    assert {"finlake_verify", "no_orphan_cards", "no_negative_credit_limits", "no_duplicate_transaction_ids",
            "freshness", "gold_minute_metrics_add_up"} <= set(checks)
    assert all(checks.values()), rows

    row = flight_query(serve, "SELECT id, CAST(credit_limit AS VARCHAR) AS l FROM bronze.cards ORDER BY id LIMIT 1")[0]
    mariadb(source, f"UPDATE cards SET credit_limit = -5.00 WHERE id = {row['id']}")
    try:
        wait_for("the negative limit served", lambda: flight_query(
            serve, "SELECT count(*) AS n FROM bronze.cards WHERE credit_limit < 0")[0]["n"] == 1, 60)
        res = airflow["run"]("dags", "test", "finance_data_quality", extra=extra)
        out = res.stdout + res.stderr
        assert res.returncode != 0
        assert "no_negative_credit_limits: 1 cards with a negative credit limit" in out, out[-6000:]
        runs = flight_query(serve, "SELECT count(DISTINCT run_id) AS n FROM gold.data_quality")[0]["n"]
        assert runs == 2
    finally:
        mariadb(source, f"UPDATE cards SET credit_limit = {row['l']} WHERE id = {row['id']}")
