"""finance_maintenance: nightly upkeep of the lake with `finlake maintain`: compaction of small
files, a Delta checkpoint, and vacuum of files older than the retention (Variable
finlake_retention, default 168h; Delta's own minimum of 7 days is the safe floor for readers
of old snapshots), followed by `finlake status` in the log. Fails with the command's output.
Configuration: see finlake_ops (Airflow Variables)."""
import os
import sys
from datetime import datetime, timedelta

from airflow.sdk import dag, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finlake_ops beside the DAGs
from finlake_ops import finlake, setting

DEFAULT_ARGS = {"retries": 1, "retry_delay": timedelta(minutes=10), "execution_timeout": timedelta(hours=2)}


@dag(dag_id="finance_maintenance", schedule="30 2 * * *", start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, default_args=DEFAULT_ARGS, tags=["finlake", "maintenance"], doc_md=__doc__)
def finance_maintenance():
    @task
    def maintain():
        retention = setting("finlake_retention", required=False) or os.environ.get("FINLAKE_RETENTION", "168h")
        return finlake("maintain", "--retention", retention)[-2000:]

    @task
    def status(_):
        return finlake("status")[-4000:]

    status(maintain())


finance_maintenance()
