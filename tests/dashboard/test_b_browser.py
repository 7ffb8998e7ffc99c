"""A real headless Chromium (Debian's chromium + chromium-driver, selenium) on a running
`streamlit run`: every page with data present, figures against Flight SQL, a row committed at
the source showing on the Overview within 10 s, and a screenshot of each page in docs/img/."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from conftest import ROOT, chromium, start_dashboard, wait_for

SHOTS = Path(os.environ.get("FINLAKE_DASHBOARD_SHOTS", ROOT / "docs" / "img"))
PAGES = {"overview": "", "fraud": "fraud", "customers": "customers", "geography": "geography", "pipeline": "pipeline"}


@pytest.fixture(scope="module")
def dashboard(quiet):
    yield start_dashboard(quiet)


@pytest.fixture(scope="module")
def browser():
    d = chromium()
    yield d
    d.quit()


def settled(d) -> bool:
    """Streamlit finished its run: figures are drawn and no 'Running…' status is showing."""
    return bool(d.find_elements(By.CSS_SELECTOR, ".fl-done"))


def metric_values(d) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for m in d.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]'):
        label = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text.strip()
        value = m.find_element(By.CSS_SELECTOR, '[data-testid="stMetricValue"]').text.strip()
        out.setdefault(label, []).append(value)
    return out


def no_trace(d) -> None:
    body = d.find_element(By.TAG_NAME, "body").text
    assert "Traceback" not in body and not d.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), body[:3000]
    assert "hmac:" not in body


def open_page(d, url: str, name: str) -> None:
    d.get(f"{url}/{PAGES[name]}")
    wait_for(f"the {name} page to render", lambda: settled(d), 60)
    time.sleep(1.5)  # let the charts finish drawing before the screenshot
    no_trace(d)


def shoot(d, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    h = d.execute_script("return Math.max(document.body.scrollHeight, 1100)")
    main = d.find_elements(By.CSS_SELECTOR, '[data-testid="stMain"]')
    if main:
        h = max(h, d.execute_script("return arguments[0].scrollHeight", main[0]))
    d.set_window_size(1440, min(int(h) + 40, 3000))
    time.sleep(1)
    d.save_screenshot(str(SHOTS / f"dashboard-{name}.png"))
    d.set_window_size(1440, 1100)


def test_every_page_in_a_browser(quiet, dashboard, browser):
    for name in PAGES:
        open_page(browser, dashboard, name)
        m = metric_values(browser)
        if name == "geography":
            assert browser.find_elements(By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"], .vega-embed'), "no map drawn"
        else:
            assert m, f"{name}: no figures shown"
        if name == "overview":
            n = quiet.sql("SELECT count(*) AS n FROM finlake.bronze.transactions WHERE date >= $1",
                          [dt.datetime.now() - dt.timedelta(days=1)])[0]["n"]
            assert m["Transactions"][2] == f"{n:,}", (m, n)
            assert "behind the bank's database" in browser.find_element(By.TAG_NAME, "body").text
        elif name == "fraud":
            row = quiet.sql("SELECT count(*) AS n, sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS f FROM finlake.bronze.fraud_labels")[0]
            assert m["Labelled transactions"] == [f"{row['n']:,}"] and m["Confirmed fraud"] == [f"{row['f']:,}"], (m, row)
        elif name == "customers":
            top = quiet.sql("SELECT client_id, count(*) AS n FROM finlake.bronze.transactions GROUP BY client_id "
                            "ORDER BY n DESC, client_id LIMIT 1")[0]
            assert m["Transactions"] == [f"{top['n']:,}"], (m, top)
        elif name == "pipeline":
            assert "server ok" in browser.find_element(By.TAG_NAME, "body").text
        shoot(browser, name)


def test_source_commit_shows_on_overview_within_10s(quiet, dashboard, browser):
    with quiet.source() as c, c.cursor() as cur:
        card, client, mcc, top = quiet.probe_refs(cur)
        tx_id = top + 1_000_000 + random.randrange(1000)
        cents = random.randrange(100)
        amount = Decimal(f"4321.{cents:02d}")
        open_page(browser, dashboard, "overview")
        cur.execute(
            "INSERT INTO transactions (id, date, client_id, card_id, amount, use_chip, merchant_id, merchant_city, "
            "merchant_state, zip, mcc, errors) VALUES (%s, NOW(), %s, %s, %s, 'Chip Transaction', 4242, 'Denver', 'CO', "
            "'80202', %s, NULL)",
            (tx_id, client, card, amount, mcc),
        )
        t0 = time.monotonic()
    shown = f"${amount:,.2f}"

    def visible():
        return shown in browser.find_element(By.TAG_NAME, "body").text and str(tx_id) in browser.find_element(By.TAG_NAME, "body").text

    wait_for(f"{shown} (transaction {tx_id}) on the Overview page", visible, 10, every=0.1)
    took = time.monotonic() - t0
    print(f"source commit -> visible on the page: {took:.2f} s")
    badge = browser.find_element(By.CSS_SELECTOR, '.fl-badge').text
    assert re.search(r"\d+\.\d s behind the bank's database", badge), badge
