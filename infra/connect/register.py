#!/usr/bin/env python3
"""Registers (or updates) the Debezium connector over Kafka Connect's REST API, idempotently.

    python3 infra/connect/register.py [--mysql] [--name NAME] [--no-signal-ddl] [--delete]

Reads, from the environment (or the native stack's state file):
  FINLAKE_SOURCE_URL         mysql://user:password@host:port/database (the account Debezium uses)
  FINLAKE_CONNECT_URL        Kafka Connect REST (default: CONNECT_URL of the stack state file)
  FINLAKE_KAFKA_BROKERS      bootstrap servers for the schema history (default: KAFKA_BOOTSTRAP)
  FINLAKE_KAFKA_TOPIC_PREFIX topic prefix (default: finance)
  FINLAKE_DEBEZIUM_SERVER_ID the connector's replica server id (default: 5400)
  FINLAKE_STACK_DIR          where the stack state file is (default: .finlake/stack)

It fills in infra/connect/finance-mysql-connector.json, creates the signal table
(infra/mysql/debezium_signal.sql, with the `mariadb`/`mysql` client) unless --no-signal-ddl,
PUTs /connectors/<name>/config (create or update: the same call twice changes nothing) and
waits until the connector and its task are RUNNING. `--mysql` switches to Debezium's MySQL
connector class (MySQL 8.0 sources); everything else is the same.
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
TEMPLATE = HERE / "finance-mysql-connector.json"
SIGNAL_DDL = HERE.parent / "mysql" / "debezium_signal.sql"
MYSQL_CLASS = "io.debezium.connector.mysql.MySqlConnector"


def stack_state():
    path = pathlib.Path(os.environ.get("FINLAKE_STACK_DIR", ".finlake/stack")) / "stack.env"
    state = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                k, v = line.split("=", 1)
                state[k] = v
    return state


def setting(name, state_key, state, default=None):
    value = os.environ.get(name) or state.get(state_key or "", "") or default
    if not value:
        sys.exit(f"register: set {name}")
    return value


def rest(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read().decode()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text


def apply_signal_ddl(url):
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        sys.exit("register: the mariadb or mysql client is needed for the signal table "
                 "(or pass --no-signal-ddl and apply infra/mysql/debezium_signal.sql yourself)")
    args = [client, "--protocol=TCP", "-h", url.hostname, "-P", str(url.port or 3306),
            "-u", urllib.parse.unquote(url.username or "root"), url.path.lstrip("/")]
    env = dict(os.environ, MYSQL_PWD=urllib.parse.unquote(url.password or ""))
    subprocess.run(args, input=SIGNAL_DDL.read_bytes(), env=env, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", default=os.environ.get("FINLAKE_CONNECTOR_NAME", "finance-mysql"))
    p.add_argument("--mysql", action="store_true", help="use the MySQL connector class")
    p.add_argument("--no-signal-ddl", action="store_true")
    p.add_argument("--delete", action="store_true", help="remove the connector instead")
    p.add_argument("--delete-all", action="store_true", help="remove every connector")
    p.add_argument("--timeout", type=float, default=120.0)
    a = p.parse_args()

    state = stack_state()
    connect = setting("FINLAKE_CONNECT_URL", "CONNECT_URL", state).rstrip("/")
    if a.delete_all:
        code, names = rest("GET", f"{connect}/connectors")
        if code != 200:
            sys.exit(f"register: GET /connectors: HTTP {code}: {names}")
        for n in names:
            rest("DELETE", f"{connect}/connectors/{n}")
            print(f"connector {n} removed")
        return
    if a.delete:
        code, body = rest("DELETE", f"{connect}/connectors/{a.name}")
        if code not in (204, 404):
            sys.exit(f"register: DELETE {a.name}: HTTP {code}: {body}")
        print(f"connector {a.name} removed")
        return
    source = urllib.parse.urlparse(setting("FINLAKE_SOURCE_URL", None, state))
    values = {
        "__DB_HOST__": source.hostname or "127.0.0.1",
        "__DB_PORT__": str(source.port or 3306),
        "__DB_USER__": urllib.parse.unquote(source.username or ""),
        "__DB_PASSWORD__": urllib.parse.unquote(source.password or ""),
        "__DATABASE__": source.path.lstrip("/"),
        "__SERVER_ID__": os.environ.get("FINLAKE_DEBEZIUM_SERVER_ID", "5400"),
        "__TOPIC_PREFIX__": os.environ.get("FINLAKE_KAFKA_TOPIC_PREFIX", "finance"),
        "__KAFKA_BOOTSTRAP__": setting("FINLAKE_KAFKA_BROKERS", "KAFKA_BOOTSTRAP", state),
    }
    config = json.loads(TEMPLATE.read_text())["config"]
    for k, v in config.items():
        for placeholder, value in values.items():
            v = v.replace(placeholder, value)
        config[k] = v
    if a.mysql:
        config["connector.class"] = MYSQL_CLASS
    if not a.no_signal_ddl:
        apply_signal_ddl(source)

    code, body = rest("PUT", f"{connect}/connectors/{a.name}/config", config)
    if code not in (200, 201):
        sys.exit(f"register: PUT {a.name}: HTTP {code}: {body}")
    print(f"connector {a.name} {'created' if code == 201 else 'configured'}")

    deadline = time.monotonic() + a.timeout
    while True:
        code, status = rest("GET", f"{connect}/connectors/{a.name}/status")
        if code == 200:
            tasks = status.get("tasks", [])
            states = [status["connector"]["state"]] + [t["state"] for t in tasks]
            if "FAILED" in states:
                trace = next((t.get("trace", "") for t in tasks if t["state"] == "FAILED"), "")
                sys.exit(f"register: connector {a.name} FAILED: {trace[:2000]}")
            if tasks and all(s == "RUNNING" for s in states):
                print(f"connector {a.name} RUNNING")
                return
        if time.monotonic() > deadline:
            sys.exit(f"register: connector {a.name} not RUNNING after {a.timeout}s: {status}")
        time.sleep(0.2)


if __name__ == "__main__":
    main()
