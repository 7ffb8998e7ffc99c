"""Fraud: live alerts with reason codes, a card's recent history, label-confirmed fraud, and
the alerts' precision and recall against the labels."""

import pandas as pd
import streamlit as st

import dash

REASONS = ["VELOCITY_1H", "SPEND_24H", "AMOUNT_OUTLIER", "NEW_MERCHANT", "NEW_LOCATION",
           "IMPOSSIBLE_TRAVEL", "BAD_PIN_STREAK", "BAD_CVV_STREAK", "DARK_WEB", "ONLINE_NEW"]

ALERTS_SQL = """
SELECT transaction_id, card_id, client_id, ts, amount, score, reasons, _detected_at
FROM finlake.features.fraud_alerts
WHERE score >= $1 AND reasons LIKE $2
ORDER BY ts DESC, transaction_id DESC
LIMIT 50
"""

QUALITY_SQL = """
SELECT
  count(l.is_fraud) AS alerts_labelled,
  sum(CASE WHEN l.is_fraud THEN 1 ELSE 0 END) AS true_positives,
  count(*) AS alerts,
  min(a.ts) AS first_alert
FROM finlake.features.fraud_alerts a
LEFT JOIN finlake.bronze.fraud_labels l ON CAST(l.transaction_id AS VARCHAR) = a.transaction_id
"""

FRAUD_SINCE_SQL = """
SELECT count(*) AS frauds
FROM finlake.bronze.fraud_labels l
JOIN finlake.bronze.transactions t ON t.id = l.transaction_id
WHERE l.is_fraud AND t.date >= $1
"""

LABELS_SQL = """
SELECT count(*) AS labelled, sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS frauds
FROM finlake.bronze.fraud_labels
"""

CONFIRMED_SQL = """
SELECT t.id, t.date, t.card_id, t.client_id, t.amount, t.use_chip, t.merchant_city, t.merchant_state, t.mcc
FROM finlake.bronze.fraud_labels l
JOIN finlake.bronze.transactions t ON t.id = l.transaction_id
WHERE l.is_fraud
ORDER BY t.date DESC, t.id DESC
LIMIT 25
"""

CARD_SQL = """
SELECT id, client_id, card_brand, card_type, card_last4, credit_limit, card_on_dark_web
FROM finlake.silver.cards_history
WHERE id = $1 AND is_current
"""

CARD_HISTORY_SQL = """
SELECT t.id, t.date, t.amount, t.use_chip, t.merchant_city, t.merchant_state, t.mcc, t.errors, l.is_fraud
FROM finlake.bronze.transactions t
LEFT JOIN finlake.bronze.fraud_labels l ON l.transaction_id = t.id
WHERE t.card_id = $1
ORDER BY t.date DESC, t.id DESC
LIMIT 20
"""

TOP_CARD_SQL = """
SELECT card_id FROM finlake.bronze.transactions ORDER BY date DESC, id DESC LIMIT 1
"""


def label(v) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return "not labelled yet"
    return "fraud" if bool(v) else "legitimate"


def tx_table(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "Transaction": df["id"].map(lambda v: str(int(v))),
            "Time": df["date"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Amount": df["amount"].map(dash.money),
            "Channel": df["use_chip"].str.replace(" Transaction", "", regex=False),
            "Merchant": df["merchant_city"] + df["merchant_state"].map(lambda s: f", {s}" if s else ""),
            "MCC": df["mcc"].astype("Int64").astype(str),
        }
    )
    if "errors" in df:
        out["Errors"] = df["errors"].fillna("")
    if "is_fraud" in df:
        out["Label"] = df["is_fraud"].map(label)
    return out


def alerts_section(names: set[str]) -> str | None:
    st.markdown("##### Live alerts")
    f1, f2 = st.columns([1, 2])
    min_score = f1.slider("Minimum risk score", 0, 100, 0, step=5, key="fraud_min_score")
    reason = f2.selectbox("Reason code", ["any"] + REASONS, key="fraud_reason")
    if "features.fraud_alerts" not in names:
        st.info("No transaction has been scored as an alert yet: the fraud features write "
                "`features.fraud_alerts` with the first alert. This page fills in as soon as it exists.")
        return None
    pattern = "%" if reason == "any" else f"%{reason}%"
    alerts = dash.query(ALERTS_SQL, [int(min_score), pattern], name="fraud.alerts")
    if alerts.empty:
        st.info("No alert matches these filters.")
        return None
    dash.freshness_badge(alerts["_detected_at"].max(), "newest alert on screen")
    view = pd.DataFrame(
        {
            "Transaction": alerts["transaction_id"].astype(str),
            "Time": alerts["ts"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "Card": alerts["card_id"].map(lambda v: str(int(v))),
            "Client": alerts["client_id"].map(lambda v: str(int(v))),
            "Amount": alerts["amount"].map(dash.money),
            "Score": alerts["score"].astype(int),
            "Reasons": alerts["reasons"].str.replace(",", " · ", regex=False),
        }
    )
    event = st.dataframe(
        view, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="fraud_alerts_table",
        column_config={"Score": st.column_config.ProgressColumn("Score", min_value=0, max_value=100, format="%d")},
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    st.caption("Select an alert to see its card's recent history.")
    return view["Card"].iloc[rows[0]] if rows else view["Card"].iloc[0]


def quality_section(names: set[str]) -> None:
    st.markdown("##### Alert quality against the labels")
    lab = dash.query(LABELS_SQL, name="fraud.labels").iloc[0]
    c = st.columns(4)
    c[0].metric("Labelled transactions", dash.count(lab["labelled"]))
    c[1].metric("Confirmed fraud", dash.count(lab["frauds"]))
    if "features.fraud_alerts" not in names:
        c[2].metric("Precision", "—")
        c[3].metric("Recall", "—")
        return
    q = dash.query(QUALITY_SQL, name="fraud.quality").iloc[0]
    tp, labelled = int(dash.dec(q["true_positives"])), int(dash.dec(q["alerts_labelled"]))
    frauds_since = 0
    if q["first_alert"] is not None and not pd.isna(q["first_alert"]):
        frauds_since = int(dash.dec(dash.query(FRAUD_SINCE_SQL, [q["first_alert"].to_pydatetime()], name="fraud.frauds_since").iloc[0]["frauds"]))
    c[2].metric("Precision", dash.pct(tp / labelled) if labelled else "—",
                help=f"{tp:,} of {labelled:,} labelled alerts are confirmed fraud.")
    c[3].metric("Recall", dash.pct(tp / frauds_since) if frauds_since else "—",
                help=f"{tp:,} of {frauds_since:,} confirmed frauds since the first alert were alerted.")


def card_section(card: str | None) -> None:
    st.markdown("##### Card history")
    default = int(card) if card else None
    if default is None:
        top = dash.query(TOP_CARD_SQL, name="fraud.top_card")
        default = int(top["card_id"].iloc[0]) if len(top) else 0
    card_id = st.number_input("Card id", min_value=0, value=default, step=1, key=f"fraud_card_{default}")
    info = dash.query(CARD_SQL, [int(card_id)], name="fraud.card")
    if info.empty:
        st.warning(f"No card {int(card_id)} in the lake.")
        return
    i = info.iloc[0]
    c = st.columns(2)
    c[0].metric("Card", dash.masked(i["card_last4"]), help=f"{i['card_brand']} {i['card_type']}")
    c[1].metric("Client", str(int(i["client_id"])))
    c = st.columns(2)
    c[0].metric("Credit limit", dash.money(i["credit_limit"]))
    c[1].metric("On the dark web", "yes" if i["card_on_dark_web"] else "no")
    st.caption(f"{i['card_brand']} {i['card_type']} · the card number is shown by its last four digits only")
    hist = dash.query(CARD_HISTORY_SQL, [int(card_id)], name="fraud.card_history")
    st.dataframe(tx_table(hist), hide_index=True, width="stretch")


def body() -> None:
    names = dash.tables()
    quality_section(names)
    left, right = st.columns([3, 2])
    with left:
        card = alerts_section(names)
    with right:
        card_section(card)
    st.markdown("##### Label-confirmed fraud")
    confirmed = dash.query(CONFIRMED_SQL, name="fraud.confirmed")
    if confirmed.empty:
        st.info("No transaction is labelled as fraud yet.")
    else:
        st.dataframe(tx_table(confirmed), hide_index=True, width="stretch")


dash.header("Fraud", "Alerts scored on the change stream, the labels that confirm them, and how good the alerts are.")
dash.live(body, every=5)
