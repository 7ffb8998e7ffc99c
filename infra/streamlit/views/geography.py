"""Geography: a US tile map of volume and fraud rate by merchant state; foreign merchants by
country. (A tile grid needs no map files or tile server: the page works offline.)"""

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st

import dash

GRID = {
    "AK": (0, 0), "ME": (0, 10), "VT": (1, 9), "NH": (1, 10),
    "WA": (2, 0), "ID": (2, 1), "MT": (2, 2), "ND": (2, 3), "MN": (2, 4), "IL": (2, 5), "WI": (2, 6),
    "MI": (2, 7), "NY": (2, 8), "RI": (2, 9), "MA": (2, 10),
    "OR": (3, 0), "NV": (3, 1), "WY": (3, 2), "SD": (3, 3), "IA": (3, 4), "IN": (3, 5), "OH": (3, 6),
    "PA": (3, 7), "NJ": (3, 8), "CT": (3, 9),
    "CA": (4, 0), "UT": (4, 1), "CO": (4, 2), "NE": (4, 3), "MO": (4, 4), "KY": (4, 5), "WV": (4, 6),
    "VA": (4, 7), "MD": (4, 8), "DE": (4, 9),
    "AZ": (5, 1), "NM": (5, 2), "KS": (5, 3), "AR": (5, 4), "TN": (5, 5), "NC": (5, 6), "SC": (5, 7), "DC": (5, 8),
    "OK": (6, 3), "LA": (6, 4), "MS": (6, 5), "AL": (6, 6), "GA": (6, 7),
    "HI": (7, 0), "TX": (7, 3), "FL": (7, 8),
}

VOLUME_SQL = """
SELECT location_kind, merchant_location, count(*) AS tx_count, sum(amount) AS amount
FROM finlake.silver.transactions_base
WHERE ts >= $1 AND location_kind <> 'online'
GROUP BY location_kind, merchant_location
"""

FRAUD_SQL = """
SELECT b.location_kind, b.merchant_location, count(*) AS labelled,
  sum(CASE WHEN l.is_fraud THEN 1 ELSE 0 END) AS frauds
FROM finlake.silver.transactions_base b
JOIN finlake.bronze.fraud_labels l ON l.transaction_id = b.id
WHERE b.ts >= $1 AND b.location_kind <> 'online'
GROUP BY b.location_kind, b.merchant_location
"""

PERIODS = {"All time": None, "Last 24 hours": dt.timedelta(days=1), "Last hour": dt.timedelta(hours=1)}


def body() -> None:
    c1, c2 = st.columns([1, 1])
    period = c1.radio("Period", list(PERIODS), horizontal=True, key="geo_period")
    measure = c2.radio("Colour states by", ["Volume (USD)", "Fraud rate"], horizontal=True, key="geo_measure")
    delta = PERIODS[period]
    since = dash.now_local() - delta if delta else dt.datetime(1900, 1, 1)
    st.session_state["geo_since"] = since

    vol = dash.query(VOLUME_SQL, [since], name="geography.volume")
    fr = dash.query(FRAUD_SQL, [since], name="geography.fraud")
    df = vol.merge(fr, on=["location_kind", "merchant_location"], how="left")
    df["labelled"] = df["labelled"].fillna(0).astype("int64")
    df["frauds"] = df["frauds"].fillna(0).astype("int64")
    df["fraud_rate"] = (df["frauds"] / df["labelled"].where(df["labelled"] > 0)).astype("float64")
    us = df[df["location_kind"] == "us_state"].copy()
    foreign = df[df["location_kind"] == "foreign"].copy()

    grid = pd.DataFrame([{"state": s, "row": r, "col": c} for s, (r, c) in GRID.items()])
    tiles = grid.merge(us.rename(columns={"merchant_location": "state"}), on="state", how="left")
    tiles["usd"] = tiles["amount"].map(lambda v: float(v) if v is not None and not pd.isna(v) else 0.0)
    tiles["volume"] = tiles["amount"].map(dash.money)
    tiles["transactions"] = tiles["tx_count"].map(dash.count)
    tiles["rate"] = tiles["fraud_rate"].map(lambda v: dash.pct(v, 2))
    field, scale, fmt = (
        ("usd", alt.Scale(scheme="teals"), "$,.0f") if measure.startswith("Volume") else ("fraud_rate", alt.Scale(scheme="reds"), ".1%")
    )
    base = alt.Chart(tiles).encode(
        x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None),
        tooltip=["state:N", alt.Tooltip("transactions:N", title="transactions"), alt.Tooltip("volume:N", title="volume"),
                 alt.Tooltip("rate:N", title="fraud rate (labelled)")],
    )
    rect = base.mark_rect(cornerRadius=4, stroke="white", strokeWidth=2).encode(
        color=alt.Color(f"{field}:Q", scale=scale, legend=alt.Legend(format=fmt, title=None, orient="right"))
    )
    text = base.mark_text(fontSize=12, fontWeight="bold").encode(text="state:N", color=alt.value("#0F172A"))

    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"##### Merchant states · {measure} · {period}")
        if us.empty:
            st.info("No in-person transaction at a US merchant in this period.")
        else:
            st.altair_chart((rect + text).properties(height=360), width="stretch")
    with right:
        st.markdown("##### Top states")
        top = us.sort_values("amount", ascending=False).head(10)
        st.dataframe(
            pd.DataFrame({"State": top["merchant_location"], "Transactions": top["tx_count"].map(dash.count),
                          "Volume": top["amount"].map(dash.money), "Fraud rate": top["fraud_rate"].map(lambda v: dash.pct(v, 2))}),
            hide_index=True, width="stretch",
        )

    st.markdown("##### Foreign merchants by country")
    if foreign.empty:
        st.info("No transaction at a foreign merchant in this period.")
        return
    foreign = foreign.sort_values("amount", ascending=False)
    foreign["usd"] = foreign["amount"].map(float)
    l2, r2 = st.columns([3, 2])
    with l2:
        bars = (
            alt.Chart(foreign.head(15))
            .mark_bar(color=dash.ACCENT)
            .encode(
                x=alt.X("usd:Q", title="volume (USD)", axis=alt.Axis(format="$,.0f")),
                y=alt.Y("merchant_location:N", sort="-x", title=None),
                tooltip=[alt.Tooltip("merchant_location:N", title="country"), alt.Tooltip("usd:Q", format="$,.2f", title="volume"),
                         alt.Tooltip("tx_count:Q", format=",d", title="transactions")],
            )
            .properties(height=320)
        )
        st.altair_chart(bars, width="stretch")
    with r2:
        st.dataframe(
            pd.DataFrame({"Country": foreign["merchant_location"], "Transactions": foreign["tx_count"].map(dash.count),
                          "Volume": foreign["amount"].map(dash.money), "Fraud rate": foreign["fraud_rate"].map(lambda v: dash.pct(v, 2))}),
            hide_index=True, width="stretch", height=320,
        )


dash.header("Geography", "Where the money is spent: in-person volume and fraud by merchant state, and abroad.")
dash.live(body, every=10)
