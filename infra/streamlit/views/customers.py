"""Customers: one client's profile and credit data, their cards (masked), and spend by
merchant category over time."""

import altair as alt
import pandas as pd
import streamlit as st

import dash

TOP_CLIENTS_SQL = """
SELECT client_id, count(*) AS tx_count
FROM finlake.bronze.transactions
GROUP BY client_id
ORDER BY tx_count DESC, client_id
LIMIT 25
"""

CLIENT_SQL = """
SELECT id, current_age, gender, yearly_income, per_capita_income, total_debt, credit_score,
  num_credit_cards, finlake_home_state(CAST(latitude AS DOUBLE), CAST(longitude AS DOUBLE)) AS home_state
FROM finlake.bronze.users
WHERE id = $1
"""

CARDS_SQL = """
SELECT id, card_brand, card_type, card_last4, expires, has_chip, credit_limit, acct_open_date,
  year_pin_last_changed, card_on_dark_web
FROM finlake.silver.cards_history
WHERE client_id = $1 AND is_current
ORDER BY id
"""

SPEND_SQL = """
SELECT b.month, b.mcc, m.description, count(*) AS tx_count, sum(b.amount) AS amount
FROM finlake.silver.transactions_base b
LEFT JOIN finlake.bronze.mcc_codes m ON m.mcc = b.mcc
WHERE b.client_id = $1
GROUP BY b.month, b.mcc, m.description
ORDER BY b.month
"""

TOTALS_SQL = """
SELECT count(*) AS tx_count, sum(amount) AS net_amount,
  sum(CASE WHEN amount < 0 THEN 1 ELSE 0 END) AS refunds, max(date) AS last_tx
FROM finlake.bronze.transactions
WHERE client_id = $1
"""


def pick_client() -> int:
    top = dash.query(TOP_CLIENTS_SQL, name="customers.top_clients")
    if top.empty:
        raise dash.DashError("The lake has no transaction yet", "Run `finlake datagen` (or `make demo`) to load data.")
    options = [int(v) for v in top["client_id"]]
    c1, c2 = st.columns([2, 1])
    chosen = c1.selectbox("Client (most active first)", options, key="customers_pick",
                          format_func=lambda v: f"client {v}")
    typed = c2.number_input("…or any client id", min_value=0, value=0, step=1, key="customers_id",
                            help="0 means: use the list.")
    return int(typed) if typed else int(chosen)


def body() -> None:
    client = pick_client()
    st.session_state["customers_client"] = client
    prof = dash.query(CLIENT_SQL, [client], name="customers.client")
    if prof.empty:
        st.warning(f"No client {client} in the lake.")
        return
    p = prof.iloc[0]
    tot = dash.query(TOTALS_SQL, [client], name="customers.totals").iloc[0]
    cards = dash.query(CARDS_SQL, [client], name="customers.cards")

    st.markdown(f"##### Client {client} · {p['gender']}, {int(p['current_age'])} · lives in {p['home_state'] or 'unknown'}")
    c = st.columns(3)
    c[0].metric("Credit score", str(int(p["credit_score"])))
    c[1].metric("Yearly income", dash.money(p["yearly_income"]))
    c[2].metric("Total debt", dash.money(p["total_debt"]))
    c = st.columns(3)
    income = dash.dec(p["yearly_income"])
    c[0].metric("Debt to income", dash.pct(dash.dec(p["total_debt"]) / income) if income else "—")
    c[1].metric("Credit limit (all cards)", dash.money(sum((dash.dec(v) for v in cards["credit_limit"]), dash.dec(0))))
    c[2].metric("Transactions", dash.count(tot["tx_count"]), help=f"Net amount {dash.money(tot['net_amount'])}")

    st.markdown("##### Cards")
    if cards.empty:
        st.info("This client has no card.")
    else:
        st.dataframe(
            pd.DataFrame(
                {
                    "Card": cards["id"].map(lambda v: str(int(v))),
                    "Number (masked)": cards["card_last4"].map(dash.masked),
                    "Brand": cards["card_brand"],
                    "Type": cards["card_type"],
                    "Expires": pd.to_datetime(cards["expires"]).dt.strftime("%m/%Y"),
                    "Chip": cards["has_chip"].map({True: "yes", False: "no"}),
                    "Credit limit": cards["credit_limit"].map(dash.money),
                    "Open since": pd.to_datetime(cards["acct_open_date"]).dt.strftime("%m/%Y"),
                    "PIN changed": cards["year_pin_last_changed"].astype(str),
                    "Dark web": cards["card_on_dark_web"].map({True: "flagged", False: "—"}),
                }
            ),
            hide_index=True,
            width="stretch",
        )

    st.markdown("##### Spend by merchant category")
    spend = dash.query(SPEND_SQL, [client], name="customers.spend")
    if spend.empty:
        st.info("No transaction for this client.")
        return
    spend["category"] = spend["description"].fillna(spend["mcc"].astype(str))
    totals = spend.groupby("category")["amount"].apply(lambda s: sum(s, dash.dec(0))).sort_values(ascending=False)
    top = list(totals.index[:7])
    spend["category"] = spend["category"].where(spend["category"].isin(top), "Other")
    spend["usd"] = spend["amount"].map(float)  # for drawing only; figures below stay exact
    spend["month"] = pd.to_datetime(spend["month"])
    chart = (
        alt.Chart(spend)
        .mark_bar()
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("sum(usd):Q", title="USD per month", axis=alt.Axis(format="$,.0f")),
            color=alt.Color("category:N", legend=alt.Legend(orient="right", title=None), scale=alt.Scale(scheme="tableau10")),
            tooltip=[alt.Tooltip("yearmonth(month):T", title="month"), "category:N",
                     alt.Tooltip("sum(usd):Q", format="$,.2f", title="spend")],
        )
        .properties(height=280)
    )
    st.altair_chart(chart, width="stretch")
    by_cat = spend.groupby("category").agg(tx=("tx_count", "sum"), amount=("amount", lambda s: sum(s, dash.dec(0))))
    by_cat = by_cat.sort_values("amount", ascending=False).reset_index()
    st.dataframe(
        pd.DataFrame({"Category": by_cat["category"], "Transactions": by_cat["tx"].map(dash.count),
                      "Amount": by_cat["amount"].map(dash.money)}),
        hide_index=True, width="stretch",
    )


dash.header("Customers", "A client's credit profile, cards (masked) and spending, as of the lake's latest commit.")
dash.live(body, every=10)
