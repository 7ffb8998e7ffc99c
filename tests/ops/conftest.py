"""Fixtures of the operations tests (Superset, Airflow, Compose, Dremio): a private MariaDB
with generated data, a live `finlake serve` over a lake in a temporary directory, and a
process registry that stops everything a test started, also when it fails.

The finlake binary is ${FINLAKE_BIN:-${CARGO_TARGET_DIR:-~/.cache/finlake/target}/debug/finlake}.
"""
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
CACHE = pathlib.Path(os.environ.get("FINLAKE_CACHE", pathlib.Path.home() / ".cache/finlake"))
FINLAKE_BIN = pathlib.Path(os.environ.get("FINLAKE_BIN") or pathlib.Path(
    os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "debug/finlake")
MASK_KEY = "ops-test-mask-key-0123456789abcdef"
FLIGHT_USER = "analyst"
FLIGHT_PASSWORD = "ops-flight-password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, check, timeout, interval=0.5):
    """Polls `check` until it returns a true value (returned) or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # noqa: BLE001 - the last error is reported on timeout
            last = e
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout} s (last error: {last!r})")


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def clean_env(**extra):
    """The environment without inherited FINLAKE_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINLAKE_")}
    env.update({"FINLAKE_LOG": "warn", "FINLAKE_NO_PROGRESS": "1", "FINLAKE_DEMO": "1"})
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Procs:
    """Processes a test started, each in its own process group; stop() ends them all."""

    def __init__(self, logdir):
        self.logdir = pathlib.Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.procs = []

    def start(self, name, cmd, env=None, cwd=None):
        log = open(self.logdir / f"{name}.log", "w")
        p = subprocess.Popen([str(c) for c in cmd], env=env, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=log, text=True, start_new_session=True)
        p.name, p.lines, p.logfile = name, [], log

        def pump():
            for line in p.stdout:
                p.lines.append(line.rstrip("\n"))
                log.write(line)
                log.flush()
        p.pump = threading.Thread(target=pump, daemon=True)
        p.pump.start()
        self.procs.append(p)
        return p

    def log(self, name):
        return (self.logdir / f"{name}.log").read_text(errors="replace")

    def stop(self, p, timeout=30):
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        p.pump.join(10)
        p.logfile.close()

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()


def finlake(*args, env=None, check=True, timeout=900):
    if not FINLAKE_BIN.is_file():
        pytest.fail(f"no finlake binary at {FINLAKE_BIN} (set FINLAKE_BIN or build it)")
    res = subprocess.run([str(FINLAKE_BIN), *map(str, args)], env=env or clean_env(),
                         capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"finlake {' '.join(map(str, args))} exited {res.returncode}:\n"
                             f"{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return res


def flight_query(serve, sql):
    """Rows of `sql` on finlake serve, as dicts (ADBC Flight SQL driver)."""
    import adbc_driver_flightsql.dbapi as flight
    conn = flight.connect(f"grpc://{serve['flight']}", autocommit=True,
                          db_kwargs={"username": serve["user"], "password": serve["password"]})
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table().to_pylist()
    finally:
        conn.close()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("ops")


@pytest.fixture(scope="session")
def procs(workdir):
    registry = Procs(workdir / "logs")
    yield registry
    registry.stop_all()


@pytest.fixture(scope="session")
def source(workdir):
    """A private MariaDB with generated data (scale 0.01); stopped at the end of the session."""
    state = workdir / "state"
    env = clean_env(FINLAKE_STATE_DIR=state)
    finlake("db", "start", env=env)
    try:
        finlake("datagen", "--scale", "0.01", "--replace", env=env)
        url = finlake("db", "url", env=env).stdout.strip().splitlines()[-1]
        cdc = finlake("db", "url", "--cdc", env=env).stdout.strip().splitlines()[-1]
        yield {"state": state, "env": env, "url": url, "cdc_url": cdc}
    finally:
        finlake("db", "stop", env=env, check=False)


@pytest.fixture(scope="session")
def serve(source, workdir, procs):
    """`finlake serve` (binlog CDC into a local lake, Flight SQL with a password) over the
    source, caught up with the snapshot, and a light `finlake simulate` workload beside it so
    the last minutes have live transactions."""
    lake = workdir / "lake"
    env = clean_env(FINLAKE_STATE_DIR=source["state"], FINLAKE_LAKE_URI=lake, FINLAKE_MASK_KEY=MASK_KEY,
                    FINLAKE_FLIGHT_USER=FLIGHT_USER, FINLAKE_FLIGHT_PASSWORD=FLIGHT_PASSWORD)
    p = procs.start("serve", [FINLAKE_BIN, "serve", "--flight-addr", "127.0.0.1:0",
                              "--http-addr", "127.0.0.1:0"], env=env)

    def addresses():
        if p.poll() is not None:
            raise AssertionError(f"finlake serve exited {p.returncode}:\n{procs.log('serve')[-3000:]}")
        got = {}
        for line in list(p.lines):
            for key, prefix in (("flight", "flight sql listening on "), ("http", "http listening on ")):
                if line.startswith(prefix):
                    got[key] = line[len(prefix):].strip()
        return got if len(got) == 2 else None

    addrs = wait_for("finlake serve listening", addresses, 120)
    http = f"http://{addrs['http']}"

    def healthy():
        code, body = http_get(f"{http}/health")
        return code == 200 and json.loads(body).get("ingest") == "running"
    wait_for("finlake serve /health ok with ingest running", healthy, 120)
    info = {"flight": addrs["flight"], "http": http, "user": FLIGHT_USER, "password": FLIGHT_PASSWORD,
            "env": env, "lake": lake, "process": p}
    expected = int(finlake("db", "status", env=env).stdout.split("transactions")[1].split()[0].replace(",", ""))

    def snapshot_served():
        return flight_query(info, "SELECT count(*) AS n FROM bronze.transactions")[0]["n"] >= expected
    wait_for(f"the snapshot's {expected} transactions served", snapshot_served, 600, interval=2)
    sim = procs.start("simulate", [FINLAKE_BIN, "simulate", "--rate", "15", "--duration", "30m"], env=env)
    info["simulate"] = sim
    yield info
