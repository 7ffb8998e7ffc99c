"""Superset 6.1.0 (its own venv, SQLite metadata) over a live `finlake serve`: the bundle of
infra/superset/ imported by the bootstrap (twice: idempotent), every chart's saved query
context run through Superset's REST API against the server, and both dashboards rendered in
headless Chromium (screenshots in docs/img/)."""
import json
import os
import pathlib
import subprocess

import pytest
import requests
import yaml

from conftest import CACHE, ROOT, free_port, wait_for

VENV = pathlib.Path(os.environ.get("FINLAKE_SUPERSET_VENV", CACHE / "venv-superset"))
BUNDLE = ROOT / "infra/superset/bundle"
ADMIN, ADMIN_PASSWORD = "admin", "ops-admin-password"
SHOTS = ROOT / "docs/img"


def bundle_charts():
    return {yaml.safe_load(p.read_text())["uuid"]: yaml.safe_load(p.read_text())
            for p in (BUNDLE / "charts").glob("*.yaml")}


@pytest.fixture(scope="module")
def superset(serve, workdir, procs):
    if not (VENV / "bin/superset").exists():
        pytest.fail(f"no Superset in {VENV}: run `make superset-install`")
    home = workdir / "superset"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINLAKE_", "SUPERSET_"))}
    env.update(SUPERSET_HOME=str(home), SUPERSET_SECRET_KEY="ops-test-secret-key-0123456789abcdef",
               SUPERSET_CONFIG_PATH=str(ROOT / "infra/superset/superset_config.py"), FLASK_APP="superset",
               SUPERSET_ADMIN_PASSWORD=ADMIN_PASSWORD, FINLAKE_FLIGHT_PASSWORD=serve["password"],
               FINLAKE_FLIGHT_USER=serve["user"], FINLAKE_SUPERSET_FLIGHT=serve["flight"])

    def bootstrap():
        res = subprocess.run([VENV / "bin/python", ROOT / "infra/superset/bootstrap.py"], env=env,
                             capture_output=True, text=True, timeout=600)
        assert res.returncode == 0, f"bootstrap failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
        return res.stdout

    out = bootstrap()
    assert "creating admin user admin" in out, out
    port = free_port()
    web = procs.start("superset", [VENV / "bin/superset", "run", "-h", "127.0.0.1", "-p", port,
                                   "--with-threads"], env=env)
    base = f"http://127.0.0.1:{port}"

    def up():
        assert web.poll() is None, f"superset exited:\n{procs.log('superset')[-3000:]}"
        return requests.get(f"{base}/health", timeout=5).text == "OK"
    wait_for("superset /health", up, 180)
    yield {"base": base, "env": env, "bootstrap": bootstrap}
    procs.stop(web)


@pytest.fixture(scope="module")
def api(superset):
    s = requests.Session()
    r = s.post(f"{superset['base']}/api/v1/security/login",
               json={"username": ADMIN, "password": ADMIN_PASSWORD, "provider": "db", "refresh": True}, timeout=30)
    r.raise_for_status()
    s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    r = s.get(f"{superset['base']}/api/v1/security/csrf_token/", timeout=30)
    r.raise_for_status()
    s.headers["X-CSRFToken"] = r.json()["result"]
    s.headers["Referer"] = superset["base"]
    s.base = superset["base"]
    return s


def listing(api, kind):
    r = api.get(f"{api.base}/api/v1/{kind}/", params={"q": "(page_size:100)"}, timeout=30)
    r.raise_for_status()
    return r.json()["result"]


def test_bootstrap_is_idempotent(superset, api):
    charts = {c["id"] for c in listing(api, "chart")}
    out = superset["bootstrap"]()
    assert "admin user admin exists" in out, out
    assert {c["id"] for c in listing(api, "chart")} == charts
    assert len(listing(api, "dashboard")) == 2
    dbs = listing(api, "database")
    assert [d["database_name"] for d in dbs] == ["finlake"]
    assert dbs[0]["backend"] == "datafusion"


def test_every_chart_query_runs_on_finlake_serve(api):
    expected = bundle_charts()
    charts = listing(api, "chart")
    assert len(charts) == len(expected), [c["slice_name"] for c in charts]
    failures, rows = [], {}
    for c in charts:
        r = api.get(f"{api.base}/api/v1/chart/{c['id']}/data/", params={"format": "json", "type": "full"},
                    timeout=300)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else r.text
        if r.status_code != 200:
            failures.append(f"{c['slice_name']}: HTTP {r.status_code}: {json.dumps(body)[:800]}")
            continue
        result = body["result"][0]
        if result.get("error"):
            failures.append(f"{c['slice_name']}: {result['error']}")
        elif not result["data"]:
            failures.append(f"{c['slice_name']}: no rows; query: {result.get('query')}")
        rows[c["slice_name"]] = result["data"]
    assert not failures, "\n".join(failures)
    # Exact money survives the trip: the 24 h spend is a decimal sum, not NaN or null.
    assert rows["Spend, last 24 h"][0]["spend"] is not None
    assert rows["Transactions, last 24 h"][0]["transactions"] > 0


def test_chart_data_endpoint_with_a_posted_query_context(api):
    """POST /api/v1/chart/data with a chart's query context (CSRF token and bearer)."""
    chart = next(c for c in listing(api, "chart") if c["slice_name"] == "Riskiest merchant categories")
    detail = api.get(f"{api.base}/api/v1/chart/{chart['id']}", timeout=30).json()["result"]
    qc = json.loads(detail["query_context"])
    r = api.post(f"{api.base}/api/v1/chart/data", json=qc, timeout=300)
    assert r.status_code == 200, r.text[:2000]
    data = r.json()["result"][0]["data"]
    assert 0 < len(data) <= 15
    assert {"mcc", "mcc_description", "frauds", "fraud_rate"} <= set(data[0])


def browser():
    from selenium import webdriver
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1900",
              "--disable-gpu"):
        opts.add_argument(a)
    service = webdriver.ChromeService(executable_path="/usr/bin/chromedriver")
    return webdriver.Chrome(options=opts, service=service)


def login(driver, base, attempts=3):
    """Logs in through Superset's login page. The React form can take the click before it is
    wired up (seen once on a loaded machine): a page that is still the login page after 20 s
    is loaded again and the form filled again, up to `attempts` times."""
    from selenium.webdriver.common.by import By
    for attempt in range(1, attempts + 1):
        driver.get(f"{base}/login/")
        wait_for("login form", lambda: driver.find_elements(By.ID, "username"), 60)
        user = driver.find_element(By.ID, "username")
        user.clear()
        user.send_keys(ADMIN)
        password = driver.find_element(By.ID, "password")
        password.clear()
        password.send_keys(ADMIN_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
        try:
            wait_for("logged in", lambda: "/login" not in driver.current_url, 20)
            return
        except AssertionError:
            if attempt == attempts:
                raise


@pytest.mark.parametrize("slug", ["finlake-operations", "finlake-fraud"])
def test_dashboard_renders_in_chromium(superset, slug):
    from selenium.webdriver.common.by import By
    base = superset["base"]
    driver = browser()
    try:
        login(driver, base)
        driver.get(f"{base}/superset/dashboard/{slug}/")
        n_charts = sum(1 for c in bundle_charts().values())

        def rendered():
            holders = driver.find_elements(By.CSS_SELECTOR, ".dashboard-component-chart-holder")
            loading = driver.find_elements(By.CSS_SELECTOR, ".dashboard-component-chart-holder .loading")
            drawn = driver.find_elements(By.CSS_SELECTOR,
                                         ".dashboard-component-chart-holder canvas, "
                                         ".dashboard-component-chart-holder svg, "
                                         ".dashboard-component-chart-holder table, "
                                         ".dashboard-component-chart-holder .header-line")
            return holders and not loading and len(drawn) >= len(holders) and holders
        holders = wait_for(f"{slug}: every chart drawn", rendered, 180, interval=1)
        assert len(holders) <= n_charts
        errors = driver.find_elements(By.CSS_SELECTOR, ".dashboard-component-chart-holder .alert-danger, "
                                      ".dashboard-component-chart-holder [role=alert]")
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SHOTS / f"superset-{slug.removeprefix('finlake-')}.png"))
        assert not errors, [e.text for e in errors]
    finally:
        driver.quit()
