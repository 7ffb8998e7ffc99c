"""One short line every few seconds for `make demo`: transactions/s, lag, alerts, all read the
way any client reads them (Flight SQL, and serve's /metrics).

    summary.py [--every 5] [--once]      (settings as for app.py: FINLAKE_FLIGHT_URI, ...)
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dash  # noqa: E402

COUNT_SQL = "SELECT count(*) AS n, max(_commit_ts) AS newest FROM finlake.bronze.transactions"
ALERTS_SQL = "SELECT count(*) AS n FROM finlake.features.fraud_alerts"


def line(prev: tuple[float, int] | None) -> tuple[str, tuple[float, int]]:
    t = time.monotonic()
    row = dash.query(COUNT_SQL).iloc[0]
    n = int(row["n"])
    names = dash.tables()
    alerts = int(dash.query(ALERTS_SQL).iloc[0]["n"]) if "features.fraud_alerts" in names else 0
    m = dash.metrics()
    lag = m.get("finlake_ingest_lag_seconds", [({}, float("nan"))])[0][1]
    queries = sum(v for _, v in m.get("finlake_queries_total", []))
    rate = f"{(n - prev[1]) / (t - prev[0]):7,.1f}" if prev and t > prev[0] else "      -"
    newest = row["newest"]
    behind = "-"
    if newest is not None and str(newest) != "NaT":
        import pandas as pd

        behind = f"{(pd.Timestamp.now(tz='UTC') - pd.Timestamp(newest).tz_convert('UTC')).total_seconds():.1f} s"
    text = (
        f"{time.strftime('%H:%M:%S')}  tx/s {rate}  transactions {n:>10,}  newest commit {behind:>8} ago  "
        f"last bronze commit {lag:5.1f} s ago  alerts {alerts:>6,}  queries {int(queries):,}"
    )
    return text, (t, n)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--every", type=float, default=5.0)
    p.add_argument("--once", action="store_true")
    a, _ = p.parse_known_args()
    prev = None
    while True:
        try:
            text, prev = line(prev)
            print(text, flush=True)
        except dash.DashError as e:
            print(f"{time.strftime('%H:%M:%S')}  {e.title}: {e.detail or e.hint}", flush=True)
            if a.once:
                return 1
        if a.once:
            return 0
        time.sleep(a.every)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
