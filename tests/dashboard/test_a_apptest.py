"""Streamlit's AppTest for every page against the live `finlake serve`: no exception, the
expected elements, and figures equal to direct Flight SQL queries; the error pages (server
down, wrong password, empty lake)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_DIR, free_port, start_serve, stop

PAGES = ["views/overview.py", "views/fraud.py", "views/customers.py", "views/geography.py", "views/pipeline.py"]


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60)
    at.run()
    if page and page != PAGES[0]:
        at.switch_page(page)
        at.run()
    return at


def metrics(at: AppTest) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in at.metric:
        out.setdefault(m.label, []).append(m.value)
    return out


def no_problems(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def parse_money(s: str) -> Decimal:
    m = re.fullmatch(r"(-?)\$([\d,]+\.\d\d)", s)
    assert m, f"not a USD amount with cents: {s!r}"
    return Decimal(m.group(1) + m.group(2).replace(",", ""))


def parse_count(s: str) -> int:
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", s), f"not a count with thousands separators: {s!r}"
    return int(s.replace(",", ""))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_live(app_env, page):
    at = app(page)
    no_problems(at)
    assert at.title and at.title[0].value == page.split("/")[1][:-3].capitalize()
    assert at.metric or at.dataframe, "a page without figures or tables"
    # Every query the page sent is recorded with its bound parameters; none pastes values in.
    log = at.session_state["_queries"]
    assert log, "the page sent no query"
    for q in log:
        assert "$" in q["sql"] or not q["params"], q


def test_overview_figures_equal_direct_queries(quiet, app_env):
    at = app()
    no_problems(at)
    w1m, w1h, w1d = at.session_state["overview_windows"]
    m = metrics(at)
    assert len(m["Transactions"]) == 3 and len(m["Amount"]) == 3
    for i, since in enumerate([w1m, w1h, w1d]):
        row = quiet.sql(
            "SELECT count(*) AS n, sum(amount) AS amount, sum(CASE WHEN amount < 0 THEN 1 ELSE 0 END) AS refunds "
            "FROM finlake.bronze.transactions WHERE date >= $1",
            [since],
        )[0]
        assert parse_count(m["Transactions"][i]) == row["n"], (since, m, row)
        assert parse_money(m["Amount"][i]) == (row["amount"] or Decimal(0)), (since, m, row)
        assert parse_count(m["Refunds"][i]) == row["refunds"] or (row["n"] == 0 and m["Refunds"][i] in ("0", "—"))
    assert parse_count(m["Transactions"][2]) > 0, "the workload's transactions are not in the last 24 hours"
    # The freshness badge and the newest transactions table are there.
    html = " ".join(md.value for md in at.markdown)
    assert "behind the bank's database" in html, html[:2000]
    assert at.table, "no table of newest transactions"


def test_fraud_figures_equal_direct_queries(quiet, app_env):
    at = app("views/fraud.py")
    no_problems(at)
    m = metrics(at)
    row = quiet.sql("SELECT count(*) AS labelled, sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS frauds FROM finlake.bronze.fraud_labels")[0]
    assert parse_count(m["Labelled transactions"][0]) == row["labelled"]
    assert parse_count(m["Confirmed fraud"][0]) == row["frauds"]
    # The card shown is masked: four digits, never a hash or a full number.
    card = m["Card"][0]
    assert re.fullmatch(r"•••• \d{4}", card), card
    every = " ".join(str(x.value) for x in [*at.markdown, *at.metric, *at.caption])
    assert "hmac:" not in every


def test_customers_figures_equal_direct_queries(quiet, app_env):
    at = app("views/customers.py")
    no_problems(at)
    client = at.session_state["customers_client"]
    m = metrics(at)
    n = quiet.sql("SELECT count(*) AS n FROM finlake.bronze.transactions WHERE client_id = $1", [client])[0]["n"]
    assert parse_count(m["Transactions"][0]) == n
    u = quiet.sql("SELECT credit_score, yearly_income FROM finlake.bronze.users WHERE id = $1", [client])[0]
    assert m["Credit score"][0] == str(u["credit_score"])
    assert parse_money(m["Yearly income"][0]) == u["yearly_income"]
    cards = at.dataframe[0].value
    assert all(re.fullmatch(r"•••• \d{4}", v) for v in cards["Number (masked)"]), cards
    # A filter typed by the viewer is a bound parameter: a hostile id is just a number that matches nothing.
    at.number_input(key="customers_id").set_value(987654321).run()
    no_problems(at)
    assert any("No client 987654321" in w.value for w in at.warning)


def test_geography_figures_equal_direct_queries(quiet, app_env):
    at = app("views/geography.py")
    no_problems(at)
    top = at.dataframe[0].value
    assert len(top) > 0
    state = top["State"].iloc[0]
    row = quiet.sql(
        "SELECT count(*) AS n, sum(amount) AS amount FROM finlake.bronze.transactions "
        "WHERE merchant_state = $1 AND use_chip <> 'Online Transaction'",
        [state],
    )[0]
    assert parse_count(top["Transactions"].iloc[0]) == row["n"]
    assert parse_money(top["Volume"].iloc[0]) == row["amount"]
    at.radio(key="geo_period").set_value("Last hour").run()
    no_problems(at)


def test_pipeline_lists_every_source_table(quiet, app_env):
    at = app("views/pipeline.py")
    no_problems(at)
    html = " ".join(md.value for md in at.markdown)
    assert "server ok" in html, html[:1000]
    tables = set(at.dataframe[-1].value["Table"])
    assert {"transactions", "cards", "users", "mcc_codes", "fraud_labels"} <= tables, tables
    assert parse_count(metrics(at)["Queries served"][0]) > 0


def test_server_down_is_a_message(app_env, monkeypatch):
    monkeypatch.setenv("FINLAKE_FLIGHT_URI", f"grpc://127.0.0.1:{free_port()}")
    for page in PAGES[:4]:
        at = app(page)
        assert not at.exception
        assert any("Cannot reach the Flight SQL server" in e.value for e in at.error), [e.value for e in at.error]


def test_wrong_password_is_a_message(app_env, monkeypatch):
    monkeypatch.setenv("FINLAKE_FLIGHT_PASSWORD", "not-the-password")
    at = app()
    assert not at.exception
    assert any("refused the credentials" in e.value for e in at.error), [e.value for e in at.error]


def test_empty_lake_is_a_message(platform, tmp_path, monkeypatch):
    env = dict(platform.env, FINLAKE_LAKE_URI=str(tmp_path / "empty-lake"))
    (tmp_path / "empty-lake").mkdir()
    proc, flight, http = start_serve(platform, ["--no-ingest"], env=env, log="serve-empty.log")
    try:
        for k, v in platform.dashboard_env(uri=f"grpc://{flight}").items():
            if k.startswith("FINLAKE_"):
                monkeypatch.setenv(k, v)
        monkeypatch.setenv("FINLAKE_HTTP_URL", f"http://{http}")
        for page in PAGES:
            at = app(page)
            assert not at.exception, (page, [e.value for e in at.exception])
            shown = " ".join(x.value for x in [*at.error, *at.info, *at.warning, *at.caption])
            assert re.search(r"not in the lake yet|no transaction|has not reported", shown, re.I), (page, shown)
    finally:
        stop(proc)
