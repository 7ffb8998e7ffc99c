"""The dashboard benchmark (issue 12): source commit -> value visible on the Overview page in a
real headless Chromium, and every query the pages send, replayed over Flight SQL.

    make bench-dashboard            # = benches/dashboard.py --scale 0.1 --probes 40 --replays 60

Runs with the dashboard's venv (~/.cache/finlake/venv-dashboard) and the release binary
($FINLAKE_BIN, default $CARGO_TARGET_DIR/release/finlake). It starts everything itself in a
temporary directory, as the dashboard tests do (tests/dashboard/conftest.py, whose platform
code it reuses): a private MariaDB, `datagen --scale`, `finlake serve`, `finlake simulate` at
the demo's rate, `streamlit run app.py` and Chromium.

1. Commit -> screen. Each probe reads the Overview's "Last hour" amount off the page, commits
   one transaction of $100,000,000.xx at the source (the workload adds a few thousand dollars
   a second, so only the probe can move the figure that far), then polls the page every 50 ms
   until the figure has grown by the probe's amount. Baseline, same commit, same moment: a
   Flight SQL client polling `bronze.transactions` for the probe's id every 20 ms (the
   pipeline's share; the rest is the page's refresh interval, its queries and drawing).
   Probes start at random offsets so they do not lock onto the page's refresh phase.
2. Queries. Streamlit's AppTest renders each page against the live server and records every
   query it sent with its bound parameters (dash.query_arrow); each distinct query is then
   replayed --replays times over one ADBC connection, as the dashboard sends it (prepared
   statement with parameters). Baseline: `SELECT 1` on the same connection.

Prints markdown tables; --json writes the raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "dashboard"))

from conftest import APP_DIR, Platform, chromium, start_dashboard, start_serve, stop, wait_for  # noqa: E402

PAGES = ["views/overview.py", "views/fraud.py", "views/customers.py", "views/geography.py", "views/pipeline.py"]
PROBE = Decimal("100000000")


def pct(xs: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def parse_money(s: str) -> Decimal:
    m = re.fullmatch(r"(-?)\$([\d,]+\.\d\d)", s.strip())
    if not m:
        raise ValueError(f"not an amount: {s!r}")
    return Decimal(m.group(1) + m.group(2).replace(",", ""))


def start_platform(args) -> Platform:
    tmp = Path(tempfile.mkdtemp(prefix="finlake-bench-dash-"))
    env = dict(os.environ)
    env.update(
        FINLAKE_STATE_DIR=str(tmp / "state"),
        FINLAKE_LAKE_URI=str(tmp / "lake"),
        FINLAKE_MASK_KEY=secrets.token_hex(24),
        FINLAKE_FLIGHT_PASSWORD=secrets.token_hex(12),
        FINLAKE_NO_PROGRESS="1",
    )
    env.pop("FINLAKE_SOURCE_URL", None)
    p = Platform(bin=args.bin, dir=tmp, env=env, password=env["FINLAKE_FLIGHT_PASSWORD"])
    t = time.monotonic()
    p.run("db", "start", timeout=180)
    p.run("datagen", "--scale", args.scale, "--replace", "--seed", "12", timeout=1800)
    print(f"datagen --scale {args.scale}: {time.monotonic() - t:.0f} s", file=sys.stderr)
    p.serve, p.flight, p.http = start_serve(p)
    want = p.source_count("transactions")
    wait_for("the snapshot", lambda: p.lake_count("transactions") == want, 1800, every=2, proc=p.serve,
             log=tmp / "serve.log")
    print(f"{want:,} transactions in the lake after {time.monotonic() - t:.0f} s", file=sys.stderr)
    p.sim = p.spawn([p.bin, "simulate", "--rate", str(args.rate), "--label-delay", "10s"], "simulate.log")
    wait_for("the workload's first rows", lambda: p.lake_count("transactions") > want, 60, every=0.5, proc=p.sim,
             log=tmp / "simulate.log")
    return p


def hour_amount(d) -> Decimal | None:
    """The Overview's 'Last hour' amount as the page shows it now (None while redrawing)."""
    from selenium.webdriver.common.by import By

    try:
        values = [m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text
                  for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]')
                  if m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text.strip() == "Amount"]
        return parse_money(values[1]) if len(values) >= 3 else None
    except Exception:  # noqa: BLE001 - the element was replaced mid-read: read again
        return None


def flight_poll(p: Platform, tx_id: int, t0: list[float], out: list[float], stop_at: float) -> None:
    with p.connect() as c, c.cursor() as cur:
        while time.monotonic() < stop_at:
            cur.execute("SELECT count(*) AS n FROM finlake.bronze.transactions WHERE id = $1", parameters=[tx_id])
            if cur.fetch_arrow_table().to_pylist()[0]["n"] == 1 and t0:
                out.append(time.monotonic() - t0[0])
                return
            time.sleep(0.02)


def probe_once(p: Platform, d, cur, card: int, client: int, mcc: int, tx_id: int) -> tuple[float, float]:
    before = None
    while before is None:
        before = hour_amount(d)
    amount = PROBE + Decimal(random.randrange(100)) / 100
    t0: list[float] = []
    flight: list[float] = []
    poller = threading.Thread(target=flight_poll, args=(p, tx_id, t0, flight, time.monotonic() + 60))
    poller.start()
    cur.execute(
        "INSERT INTO transactions (id, date, client_id, card_id, amount, use_chip, merchant_id, merchant_city, "
        "merchant_state, zip, mcc, errors) VALUES (%s, NOW(), %s, %s, %s, 'Online Transaction', 4242, 'Denver', "
        "'CO', '80202', %s, NULL)",
        (tx_id, client, card, amount, mcc),
    )
    t0.append(time.monotonic())
    deadline = t0[0] + 60
    while True:
        now = hour_amount(d)
        if now is not None and now >= before + PROBE:
            screen = time.monotonic() - t0[0]
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"probe {tx_id} not on the page after 60 s (page shows {now}, before {before})")
        time.sleep(0.05)
    poller.join()
    if not flight:
        raise AssertionError(f"probe {tx_id} never readable over Flight SQL")
    return screen, flight[0]


def commit_to_screen(p: Platform, url: str, probes: int) -> dict:
    d = chromium()
    try:
        d.get(url)
        wait_for("the Overview's figures", lambda: hour_amount(d) is not None, 120)
        screen, flight = [], []
        with p.source() as c, c.cursor() as cur:
            card, client, mcc, top = p.probe_refs(cur)
            base = top + 50_000_000
            for i in range(probes):
                time.sleep(random.uniform(0.5, 2.5))
                s, f = probe_once(p, d, cur, card, client, mcc, base + i)
                screen.append(s)
                flight.append(f)
                print(f"probe {i + 1}/{probes}: screen {s:.2f} s, flight sql {f:.2f} s", file=sys.stderr)
        return {"screen": screen, "flight": flight}
    finally:
        d.quit()


def recorded_queries(p: Platform) -> dict[str, dict]:
    from streamlit.testing.v1 import AppTest

    for k, v in p.dashboard_env().items():
        if k.startswith("FINLAKE_"):
            os.environ[k] = v
    sys.path.insert(0, str(APP_DIR))
    found: dict[str, dict] = {}
    for page in PAGES:
        at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=120)
        at.run()
        if page != PAGES[0]:
            at.switch_page(page)
            at.run()
        for q in at.session_state["_queries"]:
            found[q["name"]] = {"sql": q["sql"], "params": q["params"]}
    return found


def replay(p: Platform, queries: dict[str, dict], n: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    with p.connect() as c:
        work = [("baseline: SELECT 1", {"sql": "SELECT 1", "params": []})] + sorted(queries.items())
        for name, q in work:
            times = []
            for _ in range(n + 3):
                t = time.perf_counter()
                with c.cursor() as cur:
                    if q["params"]:
                        cur.execute(q["sql"], parameters=q["params"])
                    else:
                        cur.execute(q["sql"])
                    cur.fetch_arrow_table()
                times.append((time.perf_counter() - t) * 1e3)
            out[name] = times[3:]  # the first three warm the plan and result caches up
    return out


def report(args, c2s: dict, q: dict[str, list[float]], p: Platform) -> None:
    tx = p.lake_count("transactions")
    print(f"\nscale {args.scale}, {tx:,} transactions in the lake at the end, workload --rate {args.rate}\n")
    print("| commit -> visible | probes | p50 | p99 | max |")
    print("|---|---|---|---|---|")
    for key, label in (("screen", "on the Overview page (Chromium)"),
                       ("flight", "baseline: readable over Flight SQL (20 ms polls)")):
        xs = c2s[key]
        print(f"| {label} | {len(xs)} | {statistics.median(xs):.2f} s | {pct(xs, 99):.2f} s | {max(xs):.2f} s |")
    print("\n| query (as the page sends it) | runs | p50 | p95 | max |")
    print("|---|---|---|---|---|")
    for name, xs in q.items():
        print(f"| {name} | {len(xs)} | {statistics.median(xs):.1f} ms | {pct(xs, 95):.1f} ms | {max(xs):.1f} ms |")


def main() -> int:
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/finlake/target"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("FINLAKE_BIN", str(target / "release" / "finlake")))
    ap.add_argument("--scale", default="0.1")
    ap.add_argument("--rate", type=int, default=200, help="workload operations/s (the demo's rate)")
    ap.add_argument("--probes", type=int, default=40)
    ap.add_argument("--replays", type=int, default=60)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()
    if not os.access(args.bin, os.X_OK):
        print(f"no finlake binary at {args.bin}: `cargo build --release` first", file=sys.stderr)
        return 2
    p = None
    try:
        p = start_platform(args)
        url = start_dashboard(p)
        c2s = commit_to_screen(p, url, args.probes)
        q = replay(p, recorded_queries(p), args.replays)
        report(args, c2s, q, p)
        if args.json:
            args.json.write_text(json.dumps({"commit_to_screen": c2s, "queries_ms": q}, indent=1))
        return 0
    finally:
        if p is not None:
            for proc in reversed(p.procs):
                stop(proc)
            subprocess.run([p.bin, "db", "stop"], env=p.env, capture_output=True, timeout=120)
            if not args.keep:
                shutil.rmtree(p.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
