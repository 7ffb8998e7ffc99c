#!/usr/bin/env python3
"""Bootstraps Dremio OSS 26 over finlake's lake on MinIO, idempotently, through Dremio's REST
API (standard library only):

1. the first user (PUT /apiv2/bootstrap/firstuser; a 409/400 "already" answer means done),
   then a login (POST /apiv2/login; later calls send `Authorization: _dremio<token>`);
2. the S3 source `lake` on MinIO with path-style access (POST /api/v3/catalog,
   compatibilityMode, fs.s3a.path.style.access=true, fs.s3a.endpoint, no TLS);
3. every Delta table under <bucket>/<prefix>/bronze/ promoted to a dataset with the Delta
   format (GET /api/v3/catalog/by-path/..., POST /api/v3/catalog/{folder id});
4. the space `finlake` with folders `silver` and `gold`, and one view per file of sql/silver
   and sql/gold (POST /api/v3/catalog, VIRTUAL_DATASET), the SQL translated to Dremio's
   dialect (see translate()). Existing objects are left as they are (a 409 is success).

    python3 infra/dremio/bootstrap.py [--sql-dir sql] [--help]

Settings (environment): DREMIO_URL (http://127.0.0.1:9047), DREMIO_USER (finlake),
DREMIO_PASSWORD (required), DREMIO_EMAIL, DREMIO_S3_ENDPOINT (minio:9000), DREMIO_S3_ACCESS_KEY,
DREMIO_S3_SECRET_KEY, DREMIO_LAKE_BUCKET (finlake), DREMIO_LAKE_PREFIX (lake),
DREMIO_SOURCE (lake), DREMIO_SPACE (finlake), DREMIO_TIMEOUT (300 s to wait for Dremio).

What Dremio cannot do that finlake's views use: the UDF finlake_home_state (silver.users_history,
and silver.transactions_enriched through it) has no Dremio equivalent, so those views and the
gold views over transactions_enriched are skipped with a message; the error flags of
silver.transactions_base are rewritten from array functions to string matching.
"""
import argparse
import json
import os
import pathlib
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Views Dremio cannot run (a finlake UDF), directly or through another view.
NEEDS_UDF = re.compile(r"\bfinlake_home_state\s*\(")


def log(msg):
    print(f"dremio-bootstrap: {msg}", flush=True)


class Dremio:
    def __init__(self, url, timeout=30):
        self.url = url.rstrip("/")
        self.token = None
        self.timeout = timeout

    def call(self, method, path, body=None, ok=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"_dremio{self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                code, raw = r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            code, raw = e.code, e.read().decode(errors="replace")
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"raw": raw}
        if code not in ok:
            raise RuntimeError(f"{method} {path}: HTTP {code}: {str(payload)[:1000]}")
        return code, payload


def translate(sql, source_path, space):
    """finlake's DataFusion SQL of sql/ -> Dremio SQL over the promoted bronze tables."""
    bronze = ".".join(f'"{p}"' for p in source_path) + ".bronze"
    out = re.sub(r"\bfinlake\.bronze\.", bronze + ".", sql)
    out = re.sub(r"\bfinlake\.(silver|gold)\.", f'"{space}".\\1.', out)
    # array_has(string_to_array(col, ','), 'X') -> position in the comma-joined list
    out = re.sub(r"array_has\(string_to_array\(([\w.]+), ','\), '([^']+)'\)",
                 r"(POSITION(',\2,' IN CONCAT(',', \1, ',')) > 0)", out)
    # Calcite reserves DATE, DAY, MONTH, MINUTE: quote them where they are identifiers (outside
    # string literals; `date` only where qualified, as in t.date, since CAST(.. AS DATE) is a type).
    parts = re.split(r"('(?:[^']|'')*')", out)
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"\.date\b", '."date"', parts[i])
        parts[i] = re.sub(r"(?<![\w.\"])\b(day|month|minute)\b(?!\s*\()", r'"\1"', parts[i])
    return "".join(parts)


def views(sql_dir):
    """[(layer, name, sql)] of sql/silver and sql/gold, in dependency order."""
    found = {}
    for layer in ("silver", "gold"):
        for f in sorted((sql_dir / layer).glob("*.sql")):
            text = f.read_text()
            body = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("--")).strip()
            found[f"{layer}.{f.stem}"] = body
    ordered, seen = [], set()

    def visit(key):
        if key in seen:
            return
        seen.add(key)
        for dep in re.findall(r"\bfinlake\.((?:silver|gold)\.\w+)", found[key]):
            if dep in found:
                visit(dep)
        ordered.append(key)
    for key in found:
        visit(key)
    return [(k.split(".")[0], k.split(".")[1], found[k]) for k in ordered]


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sql-dir", default=str(ROOT / "sql"), help="finlake's sql/ (views of silver and gold)")
    a = ap.parse_args()
    password = env("DREMIO_PASSWORD")
    if not password:
        sys.exit("dremio-bootstrap: set DREMIO_PASSWORD")
    user = env("DREMIO_USER", "finlake")
    source, space = env("DREMIO_SOURCE", "lake"), env("DREMIO_SPACE", "finlake")
    bucket, prefix = env("DREMIO_LAKE_BUCKET", "finlake"), env("DREMIO_LAKE_PREFIX", "lake").strip("/")
    d = Dremio(env("DREMIO_URL", "http://127.0.0.1:9047"))

    deadline = time.monotonic() + float(env("DREMIO_TIMEOUT", "300"))
    while True:
        try:
            d.call("GET", "/apiv2/server_status")
            break
        except (RuntimeError, OSError) as e:
            if time.monotonic() > deadline:
                sys.exit(f"dremio-bootstrap: Dremio at {d.url} not ready: {e}")
            time.sleep(2)

    code, body = d.call("PUT", "/apiv2/bootstrap/firstuser", {
        "userName": user, "firstName": "finlake", "lastName": "admin",
        "email": env("DREMIO_EMAIL", "admin@finlake.local"), "createdAt": int(time.time() * 1000),
        "password": password}, ok=(200, 201, 400, 403, 409))
    log("first user created" if code in (200, 201) else f"first user exists (HTTP {code})")
    _, login = d.call("POST", "/apiv2/login", {"userName": user, "password": password})
    d.token = login["token"]

    code, _ = d.call("POST", "/api/v3/catalog", {
        "entityType": "source", "name": source, "type": "S3",
        "config": {
            "credentialType": "ACCESS_KEY",
            "accessKey": env("DREMIO_S3_ACCESS_KEY", ""), "accessSecret": env("DREMIO_S3_SECRET_KEY", ""),
            "secure": False, "compatibilityMode": True, "rootPath": "/",
            "whitelistedBuckets": [bucket],
            "propertyList": [
                {"name": "fs.s3a.path.style.access", "value": "true"},
                {"name": "fs.s3a.endpoint", "value": env("DREMIO_S3_ENDPOINT", "minio:9000")},
                {"name": "dremio.s3.compat", "value": "true"},
            ],
            "defaultCtasFormat": "ICEBERG",
        },
        "metadataPolicy": {"authTTLMs": 86400000, "namesRefreshMs": 60000, "datasetRefreshAfterMs": 60000,
                           "datasetExpireAfterMs": 180000, "datasetUpdateMode": "PREFETCH_QUERIED",
                           "deleteUnavailableDatasets": True, "autoPromoteDatasets": False},
    }, ok=(200, 201, 409))
    log(f"source {source} {'created' if code != 409 else 'exists'} (MinIO, path-style)")

    lake_path = [source, bucket, *prefix.split("/")] if prefix else [source, bucket]
    bronze_path = lake_path + ["bronze"]
    _, folder = d.call("GET", "/api/v3/catalog/by-path/" + "/".join(urllib.parse.quote(p) for p in bronze_path))
    promoted = 0
    for child in folder.get("children", []):
        name = child["path"][-1]
        if child.get("type") == "DATASET":
            continue  # already promoted
        d.call("POST", "/api/v3/catalog/" + urllib.parse.quote(child["id"], safe=""), {
            "entityType": "dataset", "id": child["id"], "path": child["path"], "type": "PHYSICAL_DATASET",
            "format": {"type": "Delta"}}, ok=(200, 201, 409))
        promoted += 1
        log(f"promoted {'.'.join(child['path'])} (Delta)")
    log(f"{promoted} bronze tables promoted")

    d.call("POST", "/api/v3/catalog", {"entityType": "space", "name": space}, ok=(200, 201, 409))
    for layer in ("silver", "gold"):
        d.call("POST", "/api/v3/catalog", {"entityType": "folder", "path": [space, layer]}, ok=(200, 201, 409))
    skipped = set()
    for layer, name, sql in views(pathlib.Path(a.sql_dir)):
        deps = set(re.findall(r"\bfinlake\.((?:silver|gold)\.\w+)", sql))
        if NEEDS_UDF.search(sql) or deps & skipped:
            skipped.add(f"{layer}.{name}")
            log(f"skipped {layer}.{name}: needs finlake_home_state, which Dremio does not have")
            continue
        code, _ = d.call("POST", "/api/v3/catalog", {
            "entityType": "dataset", "type": "VIRTUAL_DATASET", "path": [space, layer, name],
            "sql": translate(sql, lake_path, space), "sqlContext": [space]}, ok=(200, 201, 409))
        log(f"view {space}.{layer}.{name} {'created' if code != 409 else 'exists'}")
    log("ok")


if __name__ == "__main__":
    main()
