"""Pipeline: per table the applied binlog position, lag, freshness, events/s and dead letters
(the loop's `bronze._ingest_status` over Flight SQL), and the Flight server's query rate and
latency (serve's `/metrics` and `/health`)."""

import time

import pandas as pd
import streamlit as st

import dash

STATUS_SQL = """
SELECT source_table, applied_file, applied_pos, events_total, events_per_sec, lag_ms,
  dead_letters_total, reported_at
FROM (
  SELECT *, row_number() OVER (PARTITION BY source_table ORDER BY reported_at DESC) AS rn
  FROM finlake.bronze._ingest_status
  WHERE reported_at >= $1
) s
WHERE rn = 1
ORDER BY source_table
"""

DEAD_SQL = "SELECT count(*) AS n FROM finlake.bronze._dead_letters"


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Quantile estimate from cumulative histogram buckets [(le, count)] (linear inside a bucket)."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None
    rank, prev_le, prev_n = q * total, 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_n) / max(n - prev_n, 1e-9))
        prev_le, prev_n = le, n
    return prev_le


def server_section() -> None:
    h = dash.health()
    m = dash.metrics()
    now = time.monotonic()
    get = lambda name: sum(v for _, v in m.get(name, []))  # noqa: E731
    queries, errors = get("finlake_queries_total"), get("finlake_query_errors_total")
    hits, misses = get("finlake_cache_hits_total"), get("finlake_cache_misses_total")
    prev = st.session_state.get("pipeline_prev")
    rate = None
    if prev and now > prev[0]:
        rate = (queries - prev[1]) / (now - prev[0])
    st.session_state["pipeline_prev"] = (now, queries)
    buckets = [(float("inf") if l["le"] == "+Inf" else float(l["le"]), v) for l, v in m.get("finlake_query_duration_seconds_bucket", [])]
    p50, p95 = quantile(buckets, 0.5), quantile(buckets, 0.95)
    lag = get("finlake_ingest_lag_seconds") if "finlake_ingest_lag_seconds" in m else None

    status = h.get("status", "unknown")
    ok = status == "ok"
    st.markdown(
        f'<span class="fl-badge {"fl-ok" if ok else "fl-bad"}" data-testid="server-health">● server {status} · ingest '
        f'{h.get("ingest", "?")} · {h.get("tables", "?")} tables · Flight SQL {h.get("flight", "?")}</span>',
        unsafe_allow_html=True,
    )
    if h.get("ingest_error"):
        st.error(f"**The ingestion loop stopped:** {h['ingest_error']}. The server keeps serving the lake as it is; "
                 "see serve.log and restart `finlake serve`.")
    c = st.columns(6)
    c[0].metric("Queries served", dash.count(queries))
    c[1].metric("Query rate", f"{rate:,.1f}/s" if rate is not None else "measuring…")
    c[2].metric("Latency p50", f"{p50 * 1e3:,.1f} ms" if p50 is not None else "—", help="From the server's latency histogram (bucket estimate).")
    c[3].metric("Latency p95", f"{p95 * 1e3:,.1f} ms" if p95 is not None else "—")
    c[4].metric("Cache hit ratio", dash.pct(hits / (hits + misses)) if hits + misses else "—")
    c[5].metric("Bronze commit", f"{lag:,.1f} s ago" if lag is not None else "—", help="finlake_ingest_lag_seconds")
    st.caption(f"Query errors: {int(errors):,} · refused RPCs: {int(get('finlake_flight_unauthenticated_total')):,} · "
               f"rows streamed: {int(get('finlake_rows_returned_total')):,}")

    ages = pd.DataFrame(
        [{"Table": f"{l['schema']}.{l['table']}", "Commit age": v} for l, v in m.get("finlake_table_commit_age_seconds", [])]
    )
    versions = {f"{l['schema']}.{l['table']}": int(v) for l, v in m.get("finlake_table_version", [])}
    if not ages.empty:
        ages["Delta version"] = ages["Table"].map(lambda t: dash.count(versions.get(t)))
        ages = ages.sort_values("Commit age")
        ages["Commit age"] = ages["Commit age"].map(lambda s: f"{s:,.1f} s")
        st.session_state["pipeline_tables"] = ages
        with st.expander(f"Lake tables the server reads ({len(ages)})"):
            st.dataframe(ages, hide_index=True, width="stretch")


def ingest_section() -> None:
    st.markdown("##### CDC loop, per source table")
    since = pd.Timestamp.now(tz="UTC").floor("s") - pd.Timedelta(hours=6)
    try:
        df = dash.query(STATUS_SQL, [since.to_pydatetime()], name="pipeline.status")
    except dash.NoTable:
        st.info("The loop has not reported yet (it appends `bronze._ingest_status` every few seconds).")
        return
    try:
        dead = int(dash.query(DEAD_SQL, name="pipeline.dead").iloc[0]["n"])
    except dash.NoTable:
        dead = 0  # the table appears with the first dead letter
    if df.empty:
        st.info("No report from the loop in the last 6 hours.")
        return
    now = pd.Timestamp.now(tz="UTC")
    rep = pd.to_datetime(df["reported_at"], utc=True)
    view = pd.DataFrame(
        {
            "Table": df["source_table"],
            "Applied position": df["applied_file"].fillna("—") + ":" + df["applied_pos"].map(lambda v: "—" if pd.isna(v) else str(int(v))),
            "Lag": df["lag_ms"].map(lambda v: "—" if pd.isna(v) else f"{v / 1e3:,.1f} s"),
            "Events/s": df["events_per_sec"].map(lambda v: f"{v:,.1f}"),
            "Events applied": df["events_total"].map(dash.count),
            "Dead letters": df["dead_letters_total"].map(dash.count),
            "Reported": (now - rep).dt.total_seconds().map(lambda s: f"{s:,.0f} s ago"),
        }
    )
    c = st.columns(4)
    c[0].metric("Events/s (all tables)", f"{df['events_per_sec'].sum():,.1f}")
    lag_tx = df.loc[df["source_table"] == "transactions", "lag_ms"]
    c[1].metric("Lag of transactions", "—" if lag_tx.empty or pd.isna(lag_tx.iloc[0]) else f"{lag_tx.iloc[0] / 1e3:,.1f} s",
                help="Report time minus the source commit time of the newest applied change.")
    c[2].metric("Dead letters (table)", dash.count(dead))
    c[3].metric("Freshness of the newest report", f"{(now - rep.max()).total_seconds():,.1f} s")
    st.dataframe(view, hide_index=True, width="stretch")


def body() -> None:
    server_section()
    ingest_section()


dash.header("Pipeline", "The CDC loop and the Flight SQL server, live: positions, lag, throughput, query rate and latency.")
dash.live(body, every=2)
