"""What finlake's DAGs share: their configuration (Airflow Variables, falling back to the
environment) and small clients for the services they check. No DAG is defined here.

Variables (Admin -> Variables, or AIRFLOW_VAR_<NAME> in the environment; every one falls back
to the FINLAKE_* variable in brackets, then to the default):

  finlake_bin              the finlake binary [FINLAKE_BIN] (default: `finlake` on PATH)
  finlake_state_dir        the private source's state dir [FINLAKE_STATE_DIR]
  finlake_source_url       mysql://user:password@host:port/database [FINLAKE_SOURCE_URL]
  finlake_lake_uri         the lake [FINLAKE_LAKE_URI]; S3 settings come from FINLAKE_S3_*
  finlake_mask_key         the masking secret `verify` needs [FINLAKE_MASK_KEY]
  finlake_serve_http       finlake serve's /health endpoint base, http://host:port [FINLAKE_SERVE_HTTP]
  finlake_flight           finlake serve's Flight SQL host:port [FINLAKE_FLIGHT]
  finlake_flight_user      [FINLAKE_FLIGHT_USER] (default finlake)
  finlake_flight_password  [FINLAKE_FLIGHT_PASSWORD]
  finlake_kafka_brokers    host:port[,host:port] [FINLAKE_KAFKA_BROKERS]
  finlake_connect_url      Kafka Connect REST, http://host:port [FINLAKE_CONNECT_URL]
  finlake_connector        the Debezium connector's name [FINLAKE_CONNECTOR_NAME] (default finance-mysql)
  finlake_s3_endpoint      MinIO, http://host:port [FINLAKE_S3_ENDPOINT]
  finlake_max_lag_seconds  largest accepted ingest lag / commit age [FINLAKE_MAX_LAG_SECONDS] (default 120)
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

DEFAULTS = {
    "finlake_flight_user": "finlake",
    "finlake_connector": "finance-mysql",
    "finlake_max_lag_seconds": "120",
}
ENV_NAMES = {"finlake_connector": "FINLAKE_CONNECTOR_NAME"}


class CheckFailed(Exception):
    """A check found the platform unhealthy; the message is the reason."""


def setting(name, required=True):
    """Airflow Variable `name`, else FINLAKE_<NAME> from the environment, else the default."""
    value = None
    try:
        from airflow.sdk import Variable
        value = Variable.get(name, default=None)
    except Exception:  # noqa: BLE001 - outside a task (tests, CLI): the environment decides
        value = os.environ.get(f"AIRFLOW_VAR_{name.upper()}")
    if value in (None, ""):
        value = os.environ.get(ENV_NAMES.get(name, name.upper()))
    if value in (None, ""):
        value = DEFAULTS.get(name)
    if required and value in (None, ""):
        raise CheckFailed(f"configuration: set the Airflow Variable {name} (or {ENV_NAMES.get(name, name.upper())})")
    return value


def finlake_env():
    """The environment finlake's CLI runs with: FINLAKE_* from the Variables."""
    env = dict(os.environ)
    for var, name in (("FINLAKE_STATE_DIR", "finlake_state_dir"), ("FINLAKE_SOURCE_URL", "finlake_source_url"),
                      ("FINLAKE_LAKE_URI", "finlake_lake_uri"), ("FINLAKE_MASK_KEY", "finlake_mask_key")):
        value = setting(name, required=False)
        if value:
            env[var] = value
    env.setdefault("FINLAKE_NO_PROGRESS", "1")
    return env


def finlake(*args, timeout=3600):
    """Runs `finlake ARGS`; returns stdout; raises CheckFailed with its output on failure."""
    binary = setting("finlake_bin", required=False) or shutil.which("finlake") or "finlake"
    cmd = [binary, *map(str, args)]
    print("+", " ".join(cmd), flush=True)
    try:
        res = subprocess.run(cmd, env=finlake_env(), capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as e:
        raise CheckFailed(f"finlake binary not found ({binary}): set the Variable finlake_bin") from e
    except subprocess.TimeoutExpired as e:
        raise CheckFailed(f"`finlake {' '.join(map(str, args))}` ran longer than {timeout} s") from e
    print(res.stdout, end="", flush=True)
    if res.returncode != 0:
        tail = (res.stdout + res.stderr).strip()[-4000:]
        raise CheckFailed(f"`finlake {' '.join(map(str, args))}` exited {res.returncode}: {tail}")
    return res.stdout


def http(method, url, body=None, timeout=15):
    """(status, parsed JSON or text) of one HTTP call; a connection error is a CheckFailed."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            code, raw = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        code, raw = e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError) as e:
        raise CheckFailed(f"{method} {url}: {getattr(e, 'reason', e)}") from e
    try:
        return code, json.loads(raw) if raw else None
    except ValueError:
        return code, raw


def mysql_greeting(url, timeout=5):
    """Connects to the MySQL/MariaDB server of `url` and reads its handshake: the version."""
    u = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((u.hostname, u.port or 3306), timeout=timeout) as s:
            header = s.recv(4)
            if len(header) < 4:
                raise CheckFailed(f"source {u.hostname}:{u.port}: closed the connection without a handshake")
            length = int.from_bytes(header[:3], "little")
            payload = b""
            while len(payload) < length:
                chunk = s.recv(length - len(payload))
                if not chunk:
                    break
                payload += chunk
    except OSError as e:
        raise CheckFailed(f"source {u.hostname}:{u.port}: {e}") from e
    if payload[:1] == b"\xff":
        raise CheckFailed(f"source {u.hostname}:{u.port} refused: {payload[3:].decode(errors='replace')}")
    if payload[:1] != b"\x0a":
        raise CheckFailed(f"source {u.hostname}:{u.port} did not answer with a MySQL handshake")
    return payload[1:].split(b"\0", 1)[0].decode()


def kafka_api_versions(broker, timeout=5):
    """Sends Kafka's ApiVersions request (v0) to `broker` and returns how many APIs it offers."""
    host, _, port = broker.rpartition(":")
    client = b"finlake-airflow"
    body = struct.pack(">hhih", 18, 0, 1, len(client)) + client
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(struct.pack(">i", len(body)) + body)
            size = struct.unpack(">i", recv_exact(s, 4))[0]
            resp = recv_exact(s, size)
    except (OSError, ValueError) as e:
        raise CheckFailed(f"kafka {broker}: {e}") from e
    _corr, error, count = struct.unpack(">ihi", resp[:10])
    if error != 0:
        raise CheckFailed(f"kafka {broker}: ApiVersions error code {error}")
    return count


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def prometheus(text):
    """{(name, frozenset(labels)): value} of a Prometheus text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        name, _, labels = key.partition("{")
        pairs = frozenset(tuple(p.split("=", 1)) for p in labels.rstrip("}").replace('"', "").split(",") if p)
        try:
            out[(name, pairs)] = float(value)
        except ValueError:
            pass
    return out


def flight_rows(sql):
    """Rows of `sql` on finlake serve (ADBC Flight SQL driver), as dicts."""
    import adbc_driver_flightsql.dbapi as flight
    addr = setting("finlake_flight")
    kwargs = {"username": setting("finlake_flight_user"), "password": setting("finlake_flight_password")}
    try:
        conn = flight.connect(f"grpc://{addr}", db_kwargs=kwargs, autocommit=True)
    except Exception as e:  # noqa: BLE001
        raise CheckFailed(f"flight sql {addr}: {e}") from e
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table().to_pylist()
    except Exception as e:  # noqa: BLE001
        raise CheckFailed(f"flight sql {addr}: {sql!r}: {e}") from e
    finally:
        conn.close()


def wait_until(what, check, timeout, interval=2.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CheckFailed(f"{what} not within {timeout} s")
        time.sleep(interval)
