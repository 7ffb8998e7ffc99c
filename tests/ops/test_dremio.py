"""infra/dremio/bootstrap.py against a fake Dremio: a local HTTP server that answers the
endpoints of Dremio's documented REST API (v2 bootstrap/login, v3 catalog) the way Dremio
does and records every request. Dremio cannot be installed here, so this checks the request
sequence and bodies, the auth header, idempotency (a second run creates nothing) and the SQL
translation, never a real Dremio."""
import json
import os
import pathlib
import subprocess
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT

BOOTSTRAP = ROOT / "infra/dremio/bootstrap.py"
BRONZE = ["users", "cards", "mcc_codes", "transactions", "fraud_labels",
          "users__changes", "cards__changes", "transactions__changes"]
LAKE_PATH = ["lake", "finlake", "lake"]


class FakeDremio:
    def __init__(self):
        self.requests = []
        self.users = {}
        self.catalog = {}      # tuple(path) -> entity
        self.token = "tok-123"
        self.not_ready = 1     # server_status answers 503 once first (Dremio starting)
        for name in BRONZE:    # what MinIO holds: folders until promoted
            path = tuple(LAKE_PATH + ["bronze", name])
            self.catalog[path] = {"id": "dremio:/" + "/".join(path), "path": list(path), "type": "CONTAINER",
                                  "containerType": "FOLDER"}

    def handle(self, method, path, headers, body):
        self.requests.append({"method": method, "path": path, "auth": headers.get("Authorization"), "body": body})
        if path == "/apiv2/server_status":
            if self.not_ready:
                self.not_ready -= 1
                return 503, {"status": "starting"}
            return 200, {"status": "OK"}
        if path == "/apiv2/bootstrap/firstuser" and method == "PUT":
            if self.users:
                return 400, {"errorMessage": "First user can only be created when no user is already present"}
            for f in ("userName", "firstName", "lastName", "email", "password", "createdAt"):
                if f not in body:
                    return 400, {"errorMessage": f"missing {f}"}
            self.users[body["userName"]] = body["password"]
            return 200, {"userName": body["userName"]}
        if path == "/apiv2/login" and method == "POST":
            if self.users.get(body.get("userName")) != body.get("password"):
                return 401, {"errorMessage": "Login failed"}
            return 200, {"token": self.token, "userName": body["userName"]}
        if path.startswith("/api/v3/") and headers.get("Authorization") != f"_dremio{self.token}":
            return 401, {"errorMessage": "unauthorized"}
        if path.startswith("/api/v3/catalog/by-path/") and method == "GET":
            parts = tuple(urllib.parse.unquote(p) for p in path[len("/api/v3/catalog/by-path/"):].split("/"))
            children = [{"id": e["id"], "path": e["path"], "type": "DATASET" if e.get("type") == "PHYSICAL_DATASET"
                         else "CONTAINER"} for p, e in self.catalog.items() if p[:-1] == parts]
            if parts[0] not in {p[0] for p in self.catalog if self.catalog[p].get("entityType") == "source"}:
                return 404, {"errorMessage": f"Could not find entity with path [{parts}]"}
            return 200, {"entityType": "folder", "path": list(parts), "children": children}
        if path == "/api/v3/catalog" and method == "POST":
            kind = body.get("entityType")
            key = (body["name"],) if kind in ("source", "space") else tuple(body["path"])
            if key in self.catalog and self.catalog[key].get("entityType") == kind:
                return 409, {"errorMessage": f"{kind} {key} already exists"}
            if kind in ("folder", "dataset") and key[:-1] and not any(
                    p == key[:-1] or p == key[:1] for p in self.catalog):
                return 400, {"errorMessage": f"parent of {key} does not exist"}
            self.catalog[key] = dict(body, id=f"id-{len(self.catalog)}")
            return 200, self.catalog[key]
        if path.startswith("/api/v3/catalog/") and method == "POST":
            folder_id = urllib.parse.unquote(path[len("/api/v3/catalog/"):])
            entry = next((e for e in self.catalog.values() if e.get("id") == folder_id), None)
            if entry is None:
                return 404, {"errorMessage": "no such folder"}
            if entry.get("type") == "PHYSICAL_DATASET":
                return 409, {"errorMessage": "already a dataset"}
            if body.get("id") != folder_id or body.get("type") != "PHYSICAL_DATASET":
                return 400, {"errorMessage": "bad promotion body"}
            entry.update(type="PHYSICAL_DATASET", format=body.get("format"))
            return 200, entry
        return 404, {"errorMessage": f"no route {method} {path}"}


@pytest.fixture
def dremio():
    fake = FakeDremio()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.loads(raw) if raw else None
            code, payload = fake.handle(self.command, self.path, self.headers, body)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


def run(fake):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREMIO_")}
    env.update(DREMIO_URL=fake.url, DREMIO_USER="finlake", DREMIO_PASSWORD="dremio-pass-1",
               DREMIO_S3_ENDPOINT="minio:9000", DREMIO_S3_ACCESS_KEY="ak", DREMIO_S3_SECRET_KEY="sk",
               DREMIO_TIMEOUT="30")
    res = subprocess.run([sys.executable, BOOTSTRAP, "--sql-dir", ROOT / "sql"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_bootstrap_request_sequence_and_bodies(dremio):
    out = run(dremio)
    seq = [(r["method"], r["path"]) for r in dremio.requests if r["path"] != "/apiv2/server_status"]
    assert seq[:4] == [("PUT", "/apiv2/bootstrap/firstuser"), ("POST", "/apiv2/login"),
                       ("POST", "/api/v3/catalog"), ("GET", "/api/v3/catalog/by-path/lake/finlake/lake/bronze")]
    # Every v3 call carries the login token the way Dremio wants it.
    assert all(r["auth"] == "_dremio" + dremio.token for r in dremio.requests if r["path"].startswith("/api/v3/"))
    source = dremio.catalog[("lake",)]
    assert source["type"] == "S3"
    cfg = source["config"]
    props = {p["name"]: p["value"] for p in cfg["propertyList"]}
    assert props["fs.s3a.path.style.access"] == "true" and props["fs.s3a.endpoint"] == "minio:9000"
    assert cfg["compatibilityMode"] is True and cfg["secure"] is False
    assert (cfg["accessKey"], cfg["accessSecret"]) == ("ak", "sk")
    # Every bronze table promoted with the Delta format.
    for name in BRONZE:
        e = dremio.catalog[tuple(LAKE_PATH + ["bronze", name])]
        assert e["type"] == "PHYSICAL_DATASET" and e["format"] == {"type": "Delta"}, name
    # The space, its folders, and the views Dremio can run, in dependency order.
    assert dremio.catalog[("finlake",)]["entityType"] == "space"
    views = [r["body"]["path"] for r in dremio.requests
             if r["body"] and r["body"].get("type") == "VIRTUAL_DATASET"]
    names = [".".join(v[1:]) for v in views]
    assert names.index("silver.transactions_base") < names.index("gold.minute_metrics")
    assert {"silver.transactions_base", "silver.cards_history", "gold.minute_metrics",
            "gold.daily_client_spend"} <= set(names)
    for skipped in ("silver.users_history", "silver.transactions_enriched", "gold.mcc_risk",
                    "gold.merchant_risk", "gold.fraud_label_stats"):
        assert skipped not in names
        assert f"skipped {skipped}: needs finlake_home_state" in out
    base = dremio.catalog[("finlake", "silver", "transactions_base")]["sql"]
    assert '"lake"."finlake"."lake".bronze.transactions' in base
    assert "finlake.bronze" not in base and "array_has" not in base and "string_to_array" not in base
    assert 'AS "minute"' in base and 't."date"' in base
    gold = dremio.catalog[("finlake", "gold", "minute_metrics")]["sql"]
    assert '"finlake".silver.transactions_base' in gold and 'GROUP BY "minute"' in gold


def test_bootstrap_is_idempotent(dremio):
    run(dremio)
    before = json.dumps({"/".join(k): v for k, v in dremio.catalog.items()}, sort_keys=True)
    n = len(dremio.requests)
    out = run(dremio)
    assert json.dumps({"/".join(k): v for k, v in dremio.catalog.items()}, sort_keys=True) == before
    assert "first user exists" in out and "source lake exists" in out and "0 bronze tables promoted" in out
    created = [r for r in dremio.requests[n:] if r["method"] in ("POST", "PUT")
               and r["path"] not in ("/apiv2/login",)]
    # The repeats are answered 409/400 by the fake (nothing new).
    assert all(r["path"] in ("/apiv2/bootstrap/firstuser", "/api/v3/catalog") for r in created)


def test_bootstrap_reports_a_wrong_password(dremio):
    run(dremio)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DREMIO_")}
    env.update(DREMIO_URL=dremio.url, DREMIO_PASSWORD="not-the-password", DREMIO_TIMEOUT="10")
    res = subprocess.run([sys.executable, BOOTSTRAP], env=env, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0
    assert "POST /apiv2/login: HTTP 401" in res.stderr
