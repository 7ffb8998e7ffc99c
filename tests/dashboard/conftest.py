"""The live platform the dashboard tests run against: a private MariaDB, generated data,
`finlake serve` on free ports and a `finlake simulate` workload, all started here and stopped
at the end of the session (also when a test fails).

The binary: $FINLAKE_BIN, else $CARGO_TARGET_DIR/debug/finlake (default ~/.cache/finlake/target).
FINLAKE_DASHBOARD_TEST_SCALE sets the data's scale (default 0.005).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP_DIR = ROOT / "infra" / "streamlit"
sys.path.insert(0, str(APP_DIR))

SCALE = os.environ.get("FINLAKE_DASHBOARD_TEST_SCALE", "0.005")


def finlake_bin() -> str:
    b = os.environ.get("FINLAKE_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/finlake/target")) / "debug" / "finlake"
    )
    if not os.access(b, os.X_OK):
        pytest.fail(f"no finlake binary at {b} (build it, or set FINLAKE_BIN)")
    return b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float, every: float = 0.25, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise AssertionError(f"{what}: the process exited with {proc.returncode}\n{tail}")
        try:
            v = check()
            if v:
                return v
        except Exception as e:  # noqa: BLE001 - retried until the deadline
            last = e
        time.sleep(every)
    tail = log.read_text()[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last error: {last})\n{tail}")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.status == 200


def stop(proc: subprocess.Popen | None, timeout: float = 20) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@dataclass
class Platform:
    bin: str
    dir: Path
    env: dict[str, str]
    flight: str = ""
    http: str = ""
    password: str = ""
    serve: subprocess.Popen | None = None
    sim: subprocess.Popen | None = None
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"grpc://{self.flight}"

    def run(self, *args: str, timeout: float = 600) -> str:
        r = subprocess.run([self.bin, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise AssertionError(f"finlake {' '.join(args)} exited {r.returncode}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")
        return r.stdout

    def spawn(self, args: list[str], log: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
        f = open(self.dir / log, "w")  # noqa: SIM115 - the process holds it
        p = subprocess.Popen(args, env=env or self.env, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        self.procs.append(p)
        return p

    def connect(self, password: str | None = None):
        import adbc_driver_flightsql.dbapi as flightsql

        return flightsql.connect(self.uri, db_kwargs={"username": "finlake", "password": password or self.password}, autocommit=True)

    def sql(self, q: str, params: list | None = None):
        with self.connect() as c, c.cursor() as cur:
            if params:
                cur.execute(q, parameters=params)
            else:
                cur.execute(q)
            return cur.fetch_arrow_table().to_pylist()

    def source(self):
        import pymysql

        url = self.run("db", "url").strip()
        m = re.match(r"mysql://([^:]+):([^@]*)@([^:/]+):(\d+)/(\w+)", url)
        assert m, url
        from urllib.parse import unquote

        return pymysql.connect(user=unquote(m.group(1)), password=unquote(m.group(2)), host=m.group(3),
                               port=int(m.group(4)), database=m.group(5), autocommit=True)

    def probe_refs(self, cur) -> tuple[int, int, int, int]:
        """A card with its client, an MCC and the largest transaction id: what a probe
        transaction committed at the source refers to."""
        cur.execute("SELECT id, client_id FROM cards ORDER BY id LIMIT 1")
        card, client = cur.fetchone()
        cur.execute("SELECT mcc FROM mcc_codes ORDER BY mcc LIMIT 1")
        mcc = cur.fetchone()[0]
        cur.execute("SELECT max(id) FROM transactions")
        return card, client, mcc, int(cur.fetchone()[0])

    def source_count(self, table: str) -> int:
        with self.source() as c, c.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {table}")  # table names are constants of the tests
            return int(cur.fetchone()[0])

    def lake_count(self, table: str) -> int:
        return int(self.sql(f"SELECT count(*) AS n FROM finlake.bronze.{table}")[0]["n"])

    def dashboard_env(self, password: str | None = None, uri: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env.update(FINLAKE_FLIGHT_URI=uri or self.uri, FINLAKE_FLIGHT_USER="finlake",
                   FINLAKE_FLIGHT_PASSWORD=password or self.password, FINLAKE_HTTP_URL=f"http://{self.http}")
        return env

    def quiesce(self) -> None:
        """Stops the workload and waits until the lake holds every source transaction and label."""
        if self.sim is not None and self.sim.poll() is None:
            stop(self.sim)
        for t in ("transactions", "fraud_labels", "cards", "users"):
            want = self.source_count(t)
            wait_for(f"the lake's {t} to reach {want} rows", lambda t=t, want=want: self.lake_count(t) == want, 60)


def start_dashboard(p: Platform) -> str:
    """`streamlit run app.py` of the venv running this, on a free port, against `p`; its URL."""
    port = free_port()
    streamlit = shutil.which("streamlit", path=str(Path(sys.executable).parent)) or "streamlit"
    proc = p.spawn([streamlit, "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1",
                    "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                   "dashboard.log", env=p.dashboard_env(), cwd=APP_DIR)
    url = f"http://127.0.0.1:{port}"
    wait_for("the dashboard's health", lambda: http_ok(f"{url}/_stcore/health"), 60, proc=proc,
             log=p.dir / "dashboard.log")
    return url


def chromium():
    """Debian's headless Chromium through chromium-driver (selenium), 1440x1100."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        raise AssertionError("chromium and chromium-driver are missing: run infra/streamlit/install.sh")
    o = Options()
    o.binary_location = binary
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1440,1100",
              "--hide-scrollbars", "--force-device-scale-factor=1"):
        o.add_argument(a)
    d = webdriver.Chrome(service=Service(driver), options=o)
    d.set_page_load_timeout(60)
    return d


def start_serve(p: Platform, extra: list[str] | None = None, env: dict[str, str] | None = None, log: str = "serve.log"):
    proc = p.spawn([p.bin, "serve", "--flight-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
                    "--status-interval", "2s", *(extra or [])], log, env=env)
    path = p.dir / log

    def addrs():
        text = path.read_text()
        f = re.search(r"^flight sql listening on (\S+)$", text, re.M)
        h = re.search(r"^http listening on (\S+)$", text, re.M)
        return (f.group(1), h.group(1)) if f and h else None

    flight, http = wait_for("serve's listening lines", addrs, 120, proc=proc, log=path)
    wait_for("serve's /health", lambda: http_ok(f"http://{http}/health"), 60, proc=proc, log=path)
    return proc, flight, http


@pytest.fixture(scope="session")
def platform():
    tmp = Path(tempfile.mkdtemp(prefix="finlake-dash-"))
    env = dict(os.environ)
    env.update(
        FINLAKE_STATE_DIR=str(tmp / "state"),
        FINLAKE_LAKE_URI=str(tmp / "lake"),
        FINLAKE_MASK_KEY="dashboard-test-mask-key",
        FINLAKE_DEMO="1",
        FINLAKE_FLIGHT_PASSWORD=secrets.token_hex(12),
        FINLAKE_NO_PROGRESS="1",
    )
    env.pop("FINLAKE_SOURCE_URL", None)
    p = Platform(bin=finlake_bin(), dir=tmp, env=env, password=env["FINLAKE_FLIGHT_PASSWORD"])
    try:
        p.run("db", "start", timeout=180)
        p.run("datagen", "--scale", SCALE, "--replace", "--seed", "12", timeout=900)
        p.serve, p.flight, p.http = start_serve(p)
        want = p.source_count("transactions")
        wait_for("the snapshot of transactions", lambda: p.lake_count("transactions") == want, 300,
                 every=1, proc=p.serve, log=tmp / "serve.log")
        p.sim = p.spawn([p.bin, "simulate", "--rate", "30", "--label-delay", "3s"], "simulate.log")
        wait_for("the workload's first transaction in the lake", lambda: p.lake_count("transactions") > want, 60,
                 every=0.5, proc=p.sim, log=tmp / "simulate.log")
        yield p
    finally:
        for proc in reversed(p.procs):
            stop(proc)
        subprocess.run([p.bin, "db", "stop"], env=env, capture_output=True, timeout=120)
        if os.environ.get("FINLAKE_DASHBOARD_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def quiet(platform):
    """The platform with its workload stopped and the lake caught up: figures stay put."""
    platform.quiesce()
    return platform


@pytest.fixture()
def app_env(platform, monkeypatch):
    for k, v in platform.dashboard_env().items():
        if k.startswith("FINLAKE_"):
            monkeypatch.setenv(k, v)
    return platform
