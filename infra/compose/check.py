#!/usr/bin/env python3
"""Validates infra/docker-compose.yml without a Docker engine (none is available where finlake
is developed). It checks that:

* the file parses and names every expected service;
* every image is pinned (a tag that is not `latest`), in the file and in the FROM lines of
  the Dockerfiles it builds; every build context, Dockerfile and COPY source exists;
* every long-running service has a health check, every one-shot job (`*-init`) does not
  restart forever, and every `depends_on` entry names a real service with the condition
  that fits it (`service_healthy` for a long-running one, `service_completed_successfully`
  for a one-shot job); no dependency cycles;
* profiles: the core services have none, the `full` ones (Kafka UI, Spark, Dremio, Superset,
  Airflow and their init jobs) have `full`; no core service depends on a `full` one; every
  long-running service has a `mem_limit` and the core's sum fits a 16 GB laptop (<= 12 GiB);
* bind-mounted files and folders exist, named volumes are declared, every `/finlake/...` or
  `/opt/airflow/dags` path a command or variable names is inside a mount whose host file
  exists, and the files the services need are there (connector config, schema, the
  dashboards bundle, the DAGs, the Dremio bootstrap, sql/, the Streamlit app);
* ports are HOST:CONTAINER numbers without clashes;
* the packages the Superset and Airflow images add are the pins of infra/superset/install.sh
  and infra/airflow/install.sh.

    python3 infra/compose/check.py [path/to/docker-compose.yml]

Prints one line per service and exits 1 with the problems found.
"""

import pathlib
import re
import sys

import yaml

CORE = {
    "mysql", "kafka", "connect", "connect-init", "minio", "minio-init",
    "finlake-ingest", "finlake-serve", "dashboard",
}
FULL = {"kafka-ui", "spark", "dremio", "dremio-init", "superset", "superset-init", "airflow"}
EXPECTED = CORE | FULL
CORE_MEMORY_LIMIT = 12 << 30
REQUIRED_FILES = [
    "connect/register.py", "connect/finance-mysql-connector.json",
    "mysql/schema.sql", "mysql/cdc_user.sql", "mysql/debezium_signal.sql",
    "compose/mysql-init.sh", "streamlit/app.py", "streamlit/requirements.txt",
    "spark/finlake_spark.py", "spark/install.sh", "spark/pom.xml",
    "superset/superset_config.py", "superset/bootstrap.py", "superset/bundle/metadata.yaml",
    "superset/bundle/databases/finlake.yaml",
    "airflow/dags/finance_platform_health.py", "airflow/dags/finance_maintenance.py",
    "airflow/dags/finance_data_quality.py", "airflow/dags/finance_backfill.py",
    "airflow/dags/finlake_ops/__init__.py", "dremio/bootstrap.py", "../sql/gold", "../sql/silver",
]
# Image -> the install script whose pins its Dockerfile must repeat.
PINNED_BY = {"superset.Dockerfile": "superset/install.sh", "airflow.Dockerfile": "airflow/install.sh"}


def memory(value):
    m = re.fullmatch(r"(\d+)([kmg]?)b?", str(value).lower())
    if not m:
        return None
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2)]


def pinned(image):
    name, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    return bool(tag) and tag != "latest"


def one_shot(name):
    return name.endswith("-init")


def mounts(svc, base):
    """[(container path, host path or None for a named volume)]."""
    out = []
    for v in svc.get("volumes") or []:
        if isinstance(v, str):
            parts = v.split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else parts[0]
        else:
            source, target = v.get("source", ""), v.get("target", "")
        host = (base / source).resolve() if source.startswith((".", "/")) else None
        out.append((target, host))
    return out


def check_dockerfile(name, context, dockerfile, problems, pins_of):
    text = dockerfile.read_text()
    for m in re.finditer(r"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", text, re.M | re.I):
        image = m.group(1)
        if not pinned(image):
            problems.append(f"{name}: {dockerfile.name}: FROM {image} is not pinned")
    for m in re.finditer(r"^COPY\s+(?!--from)(.+)$", text, re.M):
        args = m.group(1).split()
        for src in args[:-1]:
            if not src.startswith("--") and not (context / src).exists():
                problems.append(f"{name}: {dockerfile.name}: COPY source {src} does not exist")
    script = pins_of.get(dockerfile.name)
    if script:
        pins = set(re.findall(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9_.+-]*", script.read_text()))
        for pin in re.findall(r"[A-Za-z0-9_.-]+==[0-9][A-Za-z0-9_.+-]*", text):
            if pin not in pins:
                problems.append(f"{name}: {dockerfile.name} installs {pin}, not a pin of {script.name}")


def main():
    path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                        pathlib.Path(__file__).resolve().parent.parent / "docker-compose.yml")
    base = path.parent
    doc = yaml.safe_load(path.read_text())
    problems = []
    services = doc.get("services") or {}
    missing = EXPECTED - set(services)
    if missing:
        problems.append(f"missing services: {sorted(missing)}")
    unknown = set(services) - EXPECTED
    if unknown:
        problems.append(f"services the check does not know (add them to CORE or FULL): {sorted(unknown)}")
    declared_volumes = set((doc.get("volumes") or {}).keys())
    pins_of = {k: base / v for k, v in PINNED_BY.items()}
    host_ports = {}
    core_memory = 0
    for name, svc in services.items():
        if not isinstance(svc, dict):
            problems.append(f"{name}: not a mapping")
            continue
        if "image" not in svc and "build" not in svc:
            problems.append(f"{name}: neither image nor build")
        build = svc.get("build")
        if "image" in svc and build is None and not pinned(svc["image"]):
            problems.append(f"{name}: image {svc['image']} is not pinned")
        if build is not None:
            context = base / (build if isinstance(build, str) else build.get("context", "."))
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not context.is_dir():
                problems.append(f"{name}: build context {context} does not exist")
            elif not (context / dockerfile).is_file():
                problems.append(f"{name}: Dockerfile {context / dockerfile} does not exist")
            else:
                check_dockerfile(name, context, context / dockerfile, problems, pins_of)
        # Health checks and restarts.
        health = svc.get("healthcheck") or {}
        if one_shot(name):
            if svc.get("restart") not in (None, "no", "on-failure"):
                problems.append(f"{name}: a one-shot job must not restart {svc.get('restart')}")
        else:
            test = health.get("test")
            if not test or health.get("disable"):
                problems.append(f"{name}: long-running service without a health check")
            elif isinstance(test, list) and test[0] not in ("CMD", "CMD-SHELL"):
                problems.append(f"{name}: health check test must start with CMD or CMD-SHELL")
            mem = memory(svc.get("mem_limit", ""))
            if mem is None:
                problems.append(f"{name}: no mem_limit")
            elif name in CORE:
                core_memory += mem
        # Profiles.
        profiles = svc.get("profiles") or []
        if name in CORE and profiles:
            problems.append(f"{name}: a core service has profiles {profiles}")
        if name in FULL and profiles != ["full"]:
            problems.append(f"{name}: expected profiles ['full'], found {profiles}")
        # Dependencies.
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            problems.append(f"{name}: depends_on is a list (no condition): {deps}")
            deps = {d: {} for d in deps}
        for d, spec in deps.items():
            if d not in services:
                problems.append(f"{name}: depends_on unknown service {d}")
                continue
            want = "service_completed_successfully" if one_shot(d) else "service_healthy"
            got = (spec or {}).get("condition")
            if got != want:
                problems.append(f"{name}: depends_on {d} with condition {got}, expected {want}")
            if name in CORE and d in FULL:
                problems.append(f"{name}: a core service depends on {d} of the full profile")
        # Mounts and the paths commands name.
        mnt = mounts(svc, base)
        for target, host in mnt:
            if host is not None and not host.exists():
                problems.append(f"{name}: bind mount source {host} does not exist")
        for v in svc.get("volumes") or []:
            source = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if not source.startswith((".", "/")) and source not in declared_volumes:
                problems.append(f"{name}: volume {source} is not declared")
        words = [str(w) for w in (svc.get("command") or [])] if isinstance(svc.get("command"), list) \
            else str(svc.get("command") or "").split()
        env = svc.get("environment") or {}
        words += [str(v) for v in (env.values() if isinstance(env, dict) else [])]
        for w in words:
            for p in re.findall(r"(?<![\w:/])(/finlake/[\w./-]+|/opt/airflow/dags[\w./-]*)", w):
                inside = [(t, h) for t, h in mnt if p == t or p.startswith(t.rstrip("/") + "/")]
                if not inside:
                    problems.append(f"{name}: {p} is in no mount")
                    continue
                t, h = max(inside, key=lambda x: len(x[0]))
                if h is not None and not (h / p[len(t):].lstrip("/")).exists():
                    problems.append(f"{name}: {p} -> {h / p[len(t):].lstrip('/')} does not exist")
        for p in svc.get("ports") or []:
            m = re.fullmatch(r"(\d+):(\d+)(/tcp|/udp)?", str(p))
            if not m:
                problems.append(f"{name}: port {p!r} is not HOST:CONTAINER")
                continue
            host = int(m.group(1))
            if host in host_ports:
                problems.append(f"{name}: host port {host} also used by {host_ports[host]}")
            host_ports[host] = name
        for f in svc.get("env_file") or []:
            if not (base / f).is_file():
                problems.append(f"{name}: env_file {f} does not exist")
        kind = "job" if one_shot(name) else "health: " + ("yes" if health.get("test") else "NO")
        print(f"{name:15} {(profiles or ['core'])[0]:5} {kind:12} {svc.get('image', 'build')}")
    # Cycles.
    def visit(n, stack):
        if n in stack:
            problems.append(f"dependency cycle: {' -> '.join(stack + [n])}")
            return
        deps = (services.get(n) or {}).get("depends_on") or {}
        for d in deps:
            if d in services:
                visit(d, stack + [n])
    for n in services:
        visit(n, [])
    if core_memory > CORE_MEMORY_LIMIT:
        problems.append(f"the core profile's mem_limit sum is {core_memory >> 20} MiB > {CORE_MEMORY_LIMIT >> 20} MiB")
    print(f"core profile memory limits: {core_memory >> 20} MiB")
    init = services.get("connect-init", {})
    if "register.py" not in " ".join(init.get("command") or []):
        problems.append("connect-init does not run infra/connect/register.py")
    if "bootstrap.py" not in " ".join(services.get("superset-init", {}).get("command") or []):
        problems.append("superset-init does not run infra/superset/bootstrap.py")
    if "bootstrap.py" not in " ".join(services.get("dremio-init", {}).get("command") or []):
        problems.append("dremio-init does not run infra/dremio/bootstrap.py")
    # Every variable the file requires is in the example env file start_infra.sh points to.
    example = base / "compose.env.example"
    names = set(re.findall(r"^([A-Z_]+)=", example.read_text(), re.M)) if example.exists() else set()
    for var in sorted(set(re.findall(r"\$\{([A-Z_]+):\?", path.read_text()))):
        if var not in names:
            problems.append(f"{var} is required by the compose file but not in compose.env.example")
    for f in REQUIRED_FILES:
        if not (base / f).exists():
            problems.append(f"{f} is missing")
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
