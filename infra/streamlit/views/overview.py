"""Overview: KPIs for the last minute, hour and day; transactions per minute; channel mix;
the newest transactions with the freshness badge. Refreshed in place every 2 s."""

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import dash

KPI_SQL = """
SELECT
  sum(CASE WHEN date >= $1 THEN 1 ELSE 0 END) AS tx_1m,
  sum(CASE WHEN date >= $2 THEN 1 ELSE 0 END) AS tx_1h,
  count(*) AS tx_1d,
  sum(CASE WHEN date >= $1 THEN amount ELSE 0 END) AS amount_1m,
  sum(CASE WHEN date >= $2 THEN amount ELSE 0 END) AS amount_1h,
  coalesce(sum(amount), 0) AS amount_1d,
  sum(CASE WHEN date >= $1 AND amount < 0 THEN 1 ELSE 0 END) AS refunds_1m,
  sum(CASE WHEN date >= $2 AND amount < 0 THEN 1 ELSE 0 END) AS refunds_1h,
  sum(CASE WHEN amount < 0 THEN 1 ELSE 0 END) AS refunds_1d,
  sum(CASE WHEN date >= $1 AND errors IS NOT NULL THEN 1 ELSE 0 END) AS errors_1m,
  sum(CASE WHEN date >= $2 AND errors IS NOT NULL THEN 1 ELSE 0 END) AS errors_1h,
  sum(CASE WHEN errors IS NOT NULL THEN 1 ELSE 0 END) AS errors_1d
FROM finlake.bronze.transactions
WHERE date >= $3
"""

ALERTS_SQL = """
SELECT
  coalesce(sum(CASE WHEN ts >= $1 THEN 1 ELSE 0 END), 0) AS alerts_1m,
  coalesce(sum(CASE WHEN ts >= $2 THEN 1 ELSE 0 END), 0) AS alerts_1h,
  count(*) AS alerts_1d
FROM finlake.features.fraud_alerts
WHERE ts >= $3
"""

PER_MINUTE_SQL = """
SELECT date_trunc('minute', date) AS minute,
  CASE use_chip WHEN 'Chip Transaction' THEN 'chip' WHEN 'Swipe Transaction' THEN 'swipe'
    WHEN 'Online Transaction' THEN 'online' ELSE 'unknown' END AS channel,
  count(*) AS tx_count, sum(amount) AS amount
FROM finlake.bronze.transactions
WHERE date >= $1
GROUP BY 1, 2
ORDER BY 1
"""

LATEST_SQL = """
SELECT id, date, amount, use_chip, merchant_city, merchant_state, mcc, errors, _commit_ts
FROM finlake.bronze.transactions
WHERE date >= $1
ORDER BY _commit_ts DESC, id DESC
LIMIT 12
"""

WINDOWS = [("1m", "Last minute"), ("1h", "Last hour"), ("1d", "Last 24 hours")]


def windows(now: dt.datetime) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """The last 60 s, 60 min and 24 h by the source's clock."""
    return now - dt.timedelta(minutes=1), now - dt.timedelta(hours=1), now - dt.timedelta(days=1)


def body() -> None:
    now = dash.now_local()
    w1m, w1h, w1d = windows(now)
    st.session_state["overview_windows"] = (w1m, w1h, w1d)
    names = dash.tables()

    latest = dash.query(LATEST_SQL, [w1h], name="overview.latest")
    badge, stamp = st.columns([3, 2])
    with badge:
        dash.freshness_badge(latest["_commit_ts"].max() if len(latest) else None)
    with stamp:
        st.caption(f"As of {now:%Y-%m-%d %H:%M:%S} (source clock) · refreshes every 2 s")

    k = dash.query(KPI_SQL, [w1m, w1h, w1d], name="overview.kpis").iloc[0]
    if "features.fraud_alerts" in names:
        a = dash.query(ALERTS_SQL, [w1m, w1h, w1d], name="overview.alerts").iloc[0]
    else:
        a = None
    for key, label in WINDOWS:
        tx = int(dash.dec(k[f"tx_{key}"]))
        err = int(dash.dec(k[f"errors_{key}"]))
        cols = st.columns([1.1, 1.2, 2, 1.2, 1.2, 1.2])
        cols[0].markdown(f'<div class="fl-window">{label}</div>', unsafe_allow_html=True)
        cols[1].metric("Transactions", dash.count(tx))
        cols[2].metric("Amount", dash.money(k[f"amount_{key}"]))
        cols[3].metric("Fraud alerts", dash.count(a[f"alerts_{key}"]) if a is not None else "—",
                       help=None if a is not None else "No transaction has been scored as an alert yet.")
        cols[4].metric("Refunds", dash.count(k[f"refunds_{key}"]))
        cols[5].metric("Error rate", dash.pct(err / tx) if tx else "—")

    per_min = dash.query(PER_MINUTE_SQL, [dash.minute_floor(w1h)], name="overview.per_minute")
    left, right = st.columns([3, 1])
    with left:
        st.markdown("##### Transactions per minute, last hour")
        if per_min.empty:
            st.info("No transaction in the last hour. Start a workload (`finlake simulate`) to see live traffic.")
        else:
            per_min["tx_count"] = per_min["tx_count"].astype("int64")
            chart = (
                alt.Chart(per_min)
                .mark_bar()
                .encode(
                    x=alt.X("minute:T", title=None, axis=alt.Axis(format="%H:%M")),
                    y=alt.Y("sum(tx_count):Q", title="transactions", axis=alt.Axis(format=",d")),
                    color=alt.Color("channel:N", scale=alt.Scale(domain=list(dash.CHANNEL_COLORS),
                                                                 range=list(dash.CHANNEL_COLORS.values())),
                                    legend=alt.Legend(orient="top", title=None)),
                    tooltip=[alt.Tooltip("minute:T", format="%H:%M"), "channel:N",
                             alt.Tooltip("tx_count:Q", format=",d", title="transactions")],
                )
                .properties(height=260)
            )
            st.altair_chart(chart, width="stretch")
    with right:
        st.markdown("##### Channel mix, last hour")
        if not per_min.empty:
            mix = per_min.groupby("channel", as_index=False)["tx_count"].sum()
            mix["share"] = mix["tx_count"] / mix["tx_count"].sum()
            donut = (
                alt.Chart(mix)
                .mark_arc(innerRadius=55)
                .encode(
                    theta="tx_count:Q",
                    color=alt.Color("channel:N", scale=alt.Scale(domain=list(dash.CHANNEL_COLORS),
                                                                 range=list(dash.CHANNEL_COLORS.values())),
                                    legend=alt.Legend(orient="bottom", title=None)),
                    tooltip=["channel:N", alt.Tooltip("tx_count:Q", format=",d"), alt.Tooltip("share:Q", format=".1%")],
                )
                .properties(height=260)
            )
            st.altair_chart(donut, width="stretch")

    st.markdown("##### Newest transactions")
    if latest.empty:
        st.info("No transaction committed in the last hour.")
    else:
        view = pd.DataFrame(
            {
                "Committed (UTC)": latest["_commit_ts"].dt.strftime("%H:%M:%S.%f").str[:-3],
                "Transaction": latest["id"].map(lambda v: str(int(v))),
                "Time": latest["date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                "Amount": latest["amount"].map(dash.money),
                "Channel": latest["use_chip"].str.replace(" Transaction", "", regex=False),
                "Merchant": latest["merchant_city"] + latest["merchant_state"].map(lambda s: f", {s}" if s else ""),
                "MCC": latest["mcc"].astype("Int64").astype(str),
                "Errors": latest["errors"].fillna(""),
            }
        )
        st.table(view.set_index("Committed (UTC)"))


dash.header("Overview", "Transactions, money and fraud alerts as the bank records them, seconds ago.")
dash.live(body, every=2)
