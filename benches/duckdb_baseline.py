"""DuckDB over the same Delta tables: the baseline of benches/flight.sh.

DuckDB (in process, no network) reads the tables' current Parquet files, as listed by the
Delta log (the `deltalake` package resolves the snapshot; DuckDB's own delta extension is
not installable here). It runs the `small` queries of benches/flight_queries.tsv and the
same full scan, printing lines in the format of benches/flight.rs.

Usage: python benches/duckdb_baseline.py LAKE_DIR [ITERS] [SCANS]
"""

import os
import sys
import time

import duckdb
from deltalake import DeltaTable

TABLES = ["users", "cards", "mcc_codes", "transactions", "fraud_labels"]


def percentiles(samples):
    s = sorted(samples)
    n = len(s)

    def at(p):
        return s[max(1, min(n, -(-n * p // 100))) - 1]

    return at(50), at(95)


def main():
    lake = os.path.abspath(sys.argv[1])
    iters = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    scans = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    here = os.path.dirname(os.path.abspath(__file__))
    queries = []
    with open(os.path.join(here, "flight_queries.tsv"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            kind, name, sql = line.rstrip("\n").split("\t", 2)
            queries.append((kind, name, sql))
    con = duckdb.connect()
    con.execute(f"SET threads = {os.cpu_count()}")
    con.execute("CREATE SCHEMA bronze")
    for t in TABLES:
        files = DeltaTable(os.path.join(lake, "bronze", t)).file_uris()
        listed = ", ".join("'" + u.replace("'", "''") + "'" for u in files)
        con.execute(
            f"CREATE VIEW bronze.{t} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true)"
        )
    print(f"duckdb {duckdb.__version__}")
    for kind, name, sql in queries:
        if kind != "small":
            continue
        for _ in range(min(iters, 5)):
            con.execute(sql).fetch_arrow_table()
        samples = []
        for _ in range(iters):
            t = time.perf_counter()
            con.execute(sql).fetch_arrow_table()
            samples.append(time.perf_counter() - t)
        p50, p95 = percentiles(samples)
        print(f"small {name} p50={p50 * 1e3:.2f}ms p95={p95 * 1e3:.2f}ms n={iters}")
    sql = os.environ.get("BENCH_SCAN_SQL", "SELECT * FROM bronze.transactions")
    runs = []
    for _ in range(scans):
        t = time.perf_counter()
        reader = con.execute(sql).fetch_record_batch(65536)
        rows = nbytes = 0
        for batch in reader:
            rows += batch.num_rows
            nbytes += batch.nbytes
        secs = time.perf_counter() - t
        runs.append(nbytes / secs / 1e9)
        print(f"scan {sql!r} rows={rows} bytes={nbytes} secs={secs:.2f} gbps={nbytes / secs / 1e9:.2f}")
    runs.sort()
    print(f"scan median gbps={runs[len(runs) // 2]:.2f} runs={scans}")


if __name__ == "__main__":
    main()
