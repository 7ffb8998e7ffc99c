"""finance_platform_health: every 5 minutes, is the platform up? The source database answers
a MySQL handshake, Kafka answers ApiVersions, the Debezium connector and its tasks are
RUNNING on Kafka Connect (a FAILED task is restarted, a PAUSED or STOPPED connector resumed,
and the DAG fails if they do not come back), MinIO's health endpoint is live, and
`finlake serve` reports healthy with its ingest lag and bronze commit age under
finlake_max_lag_seconds. Each check is a task that fails with the reason.
Configuration: see finlake_ops (Airflow Variables)."""
import os
import sys
from datetime import datetime, timedelta

from airflow.sdk import dag, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finlake_ops beside the DAGs
from finlake_ops import CheckFailed, http, kafka_api_versions, mysql_greeting, prometheus, setting, wait_until

DEFAULT_ARGS = {"retries": 0, "execution_timeout": timedelta(minutes=5)}


@dag(dag_id="finance_platform_health", schedule=timedelta(minutes=5), start_date=datetime(2026, 1, 1),
     catchup=False, max_active_runs=1, default_args=DEFAULT_ARGS, tags=["finlake", "health"], doc_md=__doc__)
def finance_platform_health():
    @task
    def source_database():
        url = setting("finlake_source_url", required=False)
        if not url:
            from finlake_ops import finlake
            url = finlake("db", "url").strip().splitlines()[-1]
        version = mysql_greeting(url)
        print(f"source answers: {version}")
        return version

    @task
    def kafka():
        brokers = setting("finlake_kafka_brokers").split(",")
        for b in brokers:
            n = kafka_api_versions(b.strip())
            print(f"kafka {b}: {n} APIs")
        return len(brokers)

    @task
    def connector():
        base = setting("finlake_connect_url").rstrip("/")
        name = setting("finlake_connector")
        code, status = http("GET", f"{base}/connectors/{name}/status")
        if code == 404:
            raise CheckFailed(f"connector {name} is not registered on {base} (infra/connect/register.py)")
        if code != 200:
            raise CheckFailed(f"GET /connectors/{name}/status: HTTP {code}: {status}")

        def describe(s):
            tasks = ", ".join(f"task {t['id']} {t['state']}" for t in s.get("tasks", []))
            return f"connector {s['connector']['state']}; {tasks or 'no tasks'}"
        print(f"{name}: {describe(status)}")
        repaired = []
        state = status["connector"]["state"]
        if state in ("PAUSED", "STOPPED"):
            code, body = http("PUT", f"{base}/connectors/{name}/resume")
            if code not in (200, 202, 204):
                raise CheckFailed(f"connector {name} is {state} and resume failed: HTTP {code}: {body}")
            repaired.append(f"resumed the {state} connector")
        elif state == "FAILED" or any(t["state"] == "FAILED" for t in status.get("tasks", [])):
            traces = [t.get("trace", "")[:500] for t in status.get("tasks", []) if t["state"] == "FAILED"]
            print(f"failed: {status['connector'].get('trace', '')[:500]} {traces}")
            code, body = http("POST", f"{base}/connectors/{name}/restart?includeTasks=true&onlyFailed=true")
            if code not in (200, 202, 204):
                raise CheckFailed(f"connector {name} has failed tasks and the restart failed: HTTP {code}: {body}")
            repaired.append("restarted the failed connector/tasks")
        if repaired:
            print(f"{name}: {'; '.join(repaired)}; waiting for RUNNING")

            def running():
                c, s = http("GET", f"{base}/connectors/{name}/status")
                ok = c == 200 and s["connector"]["state"] == "RUNNING" and s.get("tasks") and \
                    all(t["state"] == "RUNNING" for t in s["tasks"])
                return s if ok else None
            try:
                status = wait_until(f"connector {name} RUNNING again", running, 120)
            except CheckFailed as e:
                c, s = http("GET", f"{base}/connectors/{name}/status")
                raise CheckFailed(f"{e}: {describe(s) if c == 200 else s}") from e
            print(f"{name}: {describe(status)} after repair")
        elif state != "RUNNING" or not status.get("tasks") or any(t["state"] != "RUNNING" for t in status["tasks"]):
            raise CheckFailed(f"connector {name}: {describe(status)}")
        return {"connector": name, "state": describe(status), "repaired": repaired}

    @task
    def minio():
        base = setting("finlake_s3_endpoint").rstrip("/")
        for path in ("/minio/health/live", "/minio/health/ready"):
            code, body = http("GET", base + path)
            if code != 200:
                raise CheckFailed(f"MinIO {base}{path}: HTTP {code} {body or ''}".strip())
        print(f"MinIO {base}: live and ready")

    @task
    def finlake_serve():
        base = setting("finlake_serve_http").rstrip("/")
        max_lag = float(setting("finlake_max_lag_seconds"))
        code, health = http("GET", f"{base}/health")
        if code != 200 or not isinstance(health, dict) or health.get("status") != "ok":
            raise CheckFailed(f"finlake serve {base}/health: HTTP {code}: {health}")
        code, text = http("GET", f"{base}/metrics")
        if code != 200:
            raise CheckFailed(f"finlake serve {base}/metrics: HTTP {code}")
        m = prometheus(text)
        lag = next((v for (n, _), v in m.items() if n == "finlake_ingest_lag_seconds"), None)
        ages = {dict(l)["table"]: v for (n, l), v in m.items()
                if n == "finlake_table_commit_age_seconds" and dict(l).get("schema") == "bronze"}
        print(f"finlake serve: {health}; ingest lag {lag} s; bronze commit ages {ages}")
        if health.get("ingest") == "running":
            if lag is None:
                raise CheckFailed("finlake serve runs the ingest loop but reports no finlake_ingest_lag_seconds")
            if lag > max_lag:
                raise CheckFailed(f"finlake serve: ingest lag {lag:.1f} s > {max_lag:.0f} s")
        elif not ages:
            raise CheckFailed("finlake serve serves no bronze table")
        return {"health": health, "lag_seconds": lag}

    [source_database(), kafka(), connector(), minio(), finlake_serve()]


finance_platform_health()
