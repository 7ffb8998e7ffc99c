"""finance_data_quality: hourly, is the data right? `finlake verify` (source vs lake: row
counts and row checksums per table), then expectations over Flight SQL on what
`finlake serve` serves: no orphan cards or transactions, no negative credit limits, no
duplicate keys (bronze and the current SCD-2 versions of silver), the gold minute metrics
adding up to silver, and freshness (the ingest loop's lag). Every result is appended to the
Delta table <lake>/gold/data_quality, which finlake serve serves as `gold.data_quality` (so a
dashboard can show it); the DAG fails at the end, naming every failed expectation.
Configuration: see finlake_ops (Airflow Variables)."""
import os
import sys
import json
from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, get_current_context, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # finlake_ops beside the DAGs
from finlake_ops import CheckFailed, finlake, flight_rows, http, prometheus, setting

DEFAULT_ARGS = {"retries": 0, "execution_timeout": timedelta(minutes=30)}

# name -> (SQL returning one row with `bad` = number of offending rows, what it means)
EXPECTATIONS = {
    "no_orphan_cards": ("SELECT count(*) AS bad FROM bronze.cards c LEFT JOIN bronze.users u ON c.client_id = u.id "
                        "WHERE u.id IS NULL", "cards whose client is missing"),
    "no_orphan_transactions": ("SELECT count(*) AS bad FROM bronze.transactions t LEFT JOIN bronze.cards c "
                               "ON t.card_id = c.id WHERE c.id IS NULL", "transactions whose card is missing"),
    "no_negative_credit_limits": ("SELECT count(*) AS bad FROM bronze.cards WHERE credit_limit < 0",
                                  "cards with a negative credit limit"),
    "no_duplicate_transaction_ids": ("SELECT count(*) AS bad FROM (SELECT id FROM bronze.transactions GROUP BY id "
                                     "HAVING count(*) > 1) d", "transaction ids present more than once"),
    "no_duplicate_card_ids": ("SELECT count(*) AS bad FROM (SELECT id FROM bronze.cards GROUP BY id "
                              "HAVING count(*) > 1) d", "card ids present more than once"),
    "no_duplicate_user_ids": ("SELECT count(*) AS bad FROM (SELECT id FROM bronze.users GROUP BY id "
                              "HAVING count(*) > 1) d", "user ids present more than once"),
    "one_current_card_version": ("SELECT count(*) AS bad FROM (SELECT id FROM silver.cards_history WHERE is_current "
                                 "GROUP BY id HAVING count(*) > 1) d",
                                 "cards with more than one current SCD-2 version"),
    "gold_minute_metrics_add_up": ("SELECT abs((SELECT CAST(sum(tx_count) AS BIGINT) FROM gold.minute_metrics) - "
                                   "(SELECT count(*) FROM silver.transactions_base)) AS bad",
                                   "difference between gold.minute_metrics' count and silver's rows"),
}


def results_table():
    lake = setting("finlake_lake_uri")
    return lake.rstrip("/") + "/gold/data_quality"


def storage_options():
    import os
    opts = {}
    for env, key in (("FINLAKE_S3_ENDPOINT", "AWS_ENDPOINT_URL"), ("FINLAKE_S3_REGION", "AWS_REGION"),
                     ("FINLAKE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
                     ("FINLAKE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
                     ("FINLAKE_S3_ALLOW_HTTP", "AWS_ALLOW_HTTP")):
        if os.environ.get(env):
            opts[key] = os.environ[env]
    if opts:
        opts.setdefault("aws_conditional_put", "etag")
    return opts


@dag(dag_id="finance_data_quality", schedule=timedelta(hours=1), start_date=datetime(2026, 1, 1), catchup=False,
     max_active_runs=1, default_args=DEFAULT_ARGS, tags=["finlake", "quality"], doc_md=__doc__)
def finance_data_quality():
    @task
    def verify():
        try:
            out = finlake("verify")
            return {"check": "finlake_verify", "ok": True, "observed": 0, "detail": out.strip()[-500:]}
        except CheckFailed as e:
            return {"check": "finlake_verify", "ok": False, "observed": 1, "detail": str(e)[-2000:]}

    @task
    def expectations():
        out = []
        for name, (sql, meaning) in EXPECTATIONS.items():
            try:
                bad = int(flight_rows(sql)[0]["bad"] or 0)
                out.append({"check": name, "ok": bad == 0, "observed": bad,
                            "detail": f"{bad} {meaning}" if bad else f"no {meaning}"})
            except CheckFailed as e:
                out.append({"check": name, "ok": False, "observed": -1, "detail": str(e)[-2000:]})
            print(json.dumps(out[-1]))
        return out

    @task
    def freshness():
        base = setting("finlake_serve_http").rstrip("/")
        max_lag = float(setting("finlake_max_lag_seconds"))
        code, text = http("GET", f"{base}/metrics")
        if code != 200:
            return {"check": "freshness", "ok": False, "observed": -1, "detail": f"{base}/metrics: HTTP {code}"}
        m = prometheus(text)
        lag = next((v for (n, _), v in m.items() if n == "finlake_ingest_lag_seconds"), None)
        if lag is None:
            ages = [v for (n, l), v in m.items()
                    if n == "finlake_table_commit_age_seconds" and dict(l).get("schema") == "bronze"]
            lag = min(ages) if ages else None
        if lag is None:
            return {"check": "freshness", "ok": False, "observed": -1, "detail": "no lag or commit age reported"}
        return {"check": "freshness", "ok": lag <= max_lag, "observed": round(lag, 3),
                "detail": f"ingest lag {lag:.1f} s (limit {max_lag:.0f} s)"}

    @task
    def record(verified, expected, fresh):
        import pyarrow as pa
        from deltalake import write_deltalake
        ctx = get_current_context()
        results = [verified, *expected, fresh]
        now = datetime.now(timezone.utc)
        table = pa.table({
            "run_id": pa.array([ctx["run_id"]] * len(results), pa.string()),
            "checked_at": pa.array([now] * len(results), pa.timestamp("us", tz="UTC")),
            "check": pa.array([r["check"] for r in results], pa.string()),
            "ok": pa.array([r["ok"] for r in results], pa.bool_()),
            "observed": pa.array([float(r["observed"]) for r in results], pa.float64()),
            "detail": pa.array([r["detail"] for r in results], pa.string()),
        })
        target = results_table()
        write_deltalake(target, table, mode="append", storage_options=storage_options() or None)
        print(f"{len(results)} results appended to {target}")
        failed = [f"{r['check']}: {r['detail']}" for r in results if not r["ok"]]
        if failed:
            raise CheckFailed(f"{len(failed)} data quality check(s) failed: " + " | ".join(failed))
        return len(results)

    record(verify(), expectations(), freshness())


finance_data_quality()
