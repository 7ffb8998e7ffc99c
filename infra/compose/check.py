#!/usr/bin/env python3
"""Validates infra/docker-compose.yml without a Docker engine (none is available where finlake
is developed): it parses, names the expected services, every service has an image or a build
whose context and Dockerfile exist, bind-mounted files and folders exist, named volumes are
declared, ports are HOST:CONTAINER numbers without clashes, depends_on names real services,
and the connector registration uses the repository's connector config.

    python3 infra/compose/check.py [path/to/docker-compose.yml]

Prints one line per service and exits 1 with the problems found.
"""

import pathlib
import re
import sys

import yaml

EXPECTED = {
    "mysql", "kafka", "connect", "connect-init", "minio", "minio-init",
    "finlake-ingest", "finlake-serve", "dremio", "superset", "airflow",
}


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
    declared_volumes = set((doc.get("volumes") or {}).keys())
    host_ports = {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            problems.append(f"{name}: not a mapping")
            continue
        if "image" not in svc and "build" not in svc:
            problems.append(f"{name}: neither image nor build")
        build = svc.get("build")
        if build is not None:
            context = base / (build if isinstance(build, str) else build.get("context", "."))
            if not context.is_dir():
                problems.append(f"{name}: build context {context} does not exist")
            dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
            if not (context / dockerfile).is_file():
                problems.append(f"{name}: Dockerfile {context / dockerfile} does not exist")
        for v in svc.get("volumes") or []:
            source = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if source.startswith((".", "/")):
                if not (base / source).exists():
                    problems.append(f"{name}: bind mount source {source} does not exist")
            elif source not in declared_volumes:
                problems.append(f"{name}: volume {source} is not declared")
        for p in svc.get("ports") or []:
            m = re.fullmatch(r"(\d+):(\d+)(/tcp|/udp)?", str(p))
            if not m:
                problems.append(f"{name}: port {p!r} is not HOST:CONTAINER")
                continue
            host = int(m.group(1))
            if host in host_ports:
                problems.append(f"{name}: host port {host} also used by {host_ports[host]}")
            host_ports[host] = name
        deps = svc.get("depends_on") or []
        for d in deps if isinstance(deps, list) else deps.keys():
            if d not in services:
                problems.append(f"{name}: depends_on unknown service {d}")
        for f in svc.get("env_file") or []:
            if not (base / f).is_file():
                problems.append(f"{name}: env_file {f} does not exist")
        print(f"{name:15} {svc.get('image', 'build')}")
    init = services.get("connect-init", {})
    command = " ".join(init.get("command") or [])
    if "register.py" not in command:
        problems.append("connect-init does not run infra/connect/register.py")
    for f in ["connect/register.py", "connect/finance-mysql-connector.json",
              "mysql/schema.sql", "mysql/cdc_user.sql", "mysql/debezium_signal.sql"]:
        if not (base / f).is_file():
            problems.append(f"{f} is missing")
    for p in problems:
        print(f"problem: {p}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
