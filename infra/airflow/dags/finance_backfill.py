"""finance_backfill: triggered by hand. Loads data into the source database and re-snapshots
one table through Debezium's signal table while streaming goes on.

Params (Trigger DAG w/ config):
  mode       "datagen" (synthetic data, `finlake datagen --scale S`) or "kaggle" (the public
             dataset's five files in `kaggle_dir`, `finlake load-kaggle DIR`); default datagen
  scale      datagen scale (default 0.01)
  replace    datagen: replace non-empty tables (default false: datagen refuses them)
  kaggle_dir the directory of transactions_data.csv, users_data.csv, cards_data.csv,
             mcc_codes.json, train_fraud_labels.json
  resnapshot the table to re-snapshot (default "cards"; "" skips it)

The signal row is INSERTed with the `mariadb` (or `mysql`) client over finlake_source_url's
account (it needs INSERT on debezium_signal), then the connector must stay RUNNING.
Configuration: see finlake_ops (Airflow Variables)."""
import os
import sys
import json
import shutil
import subprocess
import urllib.parse
import uuid
from datetime import datetime, timedelta

from airflow.sdk import Param, dag, get_current_context, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finlake_ops beside the DAGs
from finlake_ops import CheckFailed, finlake, http, setting

DEFAULT_ARGS = {"retries": 0, "execution_timeout": timedelta(hours=3)}
TABLES = {"users", "cards", "mcc_codes", "transactions", "fraud_labels"}


@dag(dag_id="finance_backfill", schedule=None, start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1,
     default_args=DEFAULT_ARGS, tags=["finlake", "backfill"], doc_md=__doc__,
     params={"mode": Param("datagen", enum=["datagen", "kaggle"]), "scale": Param(0.01, type="number"),
             "replace": Param(False, type="boolean"), "kaggle_dir": Param("", type="string"),
             "resnapshot": Param("cards", type="string")})
def finance_backfill():
    @task
    def load():
        p = get_current_context()["params"]
        if p["mode"] == "kaggle":
            if not p["kaggle_dir"]:
                raise CheckFailed("mode kaggle needs the param kaggle_dir")
            return finlake("load-kaggle", p["kaggle_dir"])[-2000:]
        args = ["datagen", "--scale", p["scale"]]
        if p["replace"]:
            args.append("--replace")
        return finlake(*args)[-2000:]

    @task
    def resnapshot(_):
        table = get_current_context()["params"]["resnapshot"]
        if not table:
            print("no table to re-snapshot")
            return None
        if table not in TABLES:
            raise CheckFailed(f"resnapshot: {table!r} is not one of {sorted(TABLES)}")
        url = setting("finlake_source_url", required=False) or finlake("db", "url").strip().splitlines()[-1]
        u = urllib.parse.urlsplit(url)
        database = u.path.lstrip("/")
        client = shutil.which("mariadb") or shutil.which("mysql")
        if not client:
            raise CheckFailed("resnapshot needs the mariadb or mysql client on PATH")
        data = json.dumps({"data-collections": [f"{database}.{table}"], "type": "incremental"})
        signal_id = str(uuid.uuid4())
        sql = f"INSERT INTO debezium_signal (id, type, data) VALUES ('{signal_id}', 'execute-snapshot', '{data}')"
        env = {"MYSQL_PWD": urllib.parse.unquote(u.password or "")}
        res = subprocess.run([client, "--protocol=TCP", "-h", u.hostname, "-P", str(u.port or 3306),
                              "-u", urllib.parse.unquote(u.username or ""), database, "-e", sql],
                             env=env, capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise CheckFailed(f"signal INSERT failed: {res.stderr.strip()}")
        print(f"signal {signal_id}: execute-snapshot {database}.{table} (incremental)")
        base = setting("finlake_connect_url").rstrip("/")
        name = setting("finlake_connector")
        code, status = http("GET", f"{base}/connectors/{name}/status")
        if code != 200 or status["connector"]["state"] != "RUNNING":
            raise CheckFailed(f"connector {name} is not RUNNING after the signal: HTTP {code}: {status}")
        return signal_id

    resnapshot(load())


finance_backfill()
