"""infra/compose/check.py over infra/docker-compose.yml (no Docker engine here: the file is
validated, not run), and over broken copies of it: each kind of mistake the check exists for
must make it fail with the matching problem."""
import copy
import pathlib
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT

COMPOSE = ROOT / "infra/docker-compose.yml"
CHECK = ROOT / "infra/compose/check.py"


def check(path):
    res = subprocess.run([sys.executable, CHECK, path], capture_output=True, text=True, timeout=60)
    return res.returncode, res.stdout, res.stderr


def test_the_compose_file_passes():
    code, out, err = check(COMPOSE)
    assert code == 0, err
    for svc in ("mysql", "kafka", "connect", "kafka-ui", "minio", "spark", "finlake-ingest", "finlake-serve",
                "dashboard", "dremio", "dremio-init", "superset", "superset-init", "airflow"):
        assert f"\n{svc} " in "\n" + out, svc
    assert "core profile memory limits" in out


def broken(tmp_path, mutate):
    doc = yaml.safe_load(COMPOSE.read_text())
    mutate(doc)
    # Written beside the original (relative mounts resolve from the file's folder).
    path = COMPOSE.parent / f".check-{tmp_path.name}.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


CASES = {
    "no health check": (lambda d: d["services"]["kafka"].pop("healthcheck"),
                        "kafka: long-running service without a health check"),
    "unconditioned dependency": (lambda d: d["services"]["superset"].update(depends_on=["superset-init"]),
                                 "superset: depends_on is a list (no condition)"),
    "wrong condition": (lambda d: d["services"]["finlake-serve"]["depends_on"]["finlake-ingest"].update(
        condition="service_started"), "finlake-serve: depends_on finlake-ingest with condition service_started"),
    "unpinned image": (lambda d: d["services"]["kafka-ui"].update(image="provectuslabs/kafka-ui:latest"),
                       "kafka-ui: image provectuslabs/kafka-ui:latest is not pinned"),
    "missing mount": (lambda d: d["services"]["dashboard"]["volumes"].append("./streamlit/nope.py:/x/nope.py:ro"),
                      "bind mount source"),
    "command outside mounts": (lambda d: d["services"]["connect-init"].update(
        command=["python3", "/finlake/connect/missing.py"]), "/finlake/connect/missing.py"),
    "full service in core": (lambda d: d["services"]["airflow"].pop("profiles"),
                             "airflow: expected profiles ['full']"),
    "core depends on full": (lambda d: d["services"]["dashboard"]["depends_on"].update(
        superset={"condition": "service_healthy"}), "dashboard: a core service depends on superset"),
    "core too big": (lambda d: d["services"]["finlake-serve"].update(mem_limit="9g"),
                     "the core profile's mem_limit sum"),
    "missing service": (lambda d: d["services"].pop("spark"), "missing services: ['spark']"),
    "port clash": (lambda d: d["services"]["dashboard"].update(ports=["8088:8501"]) or
                   d["services"]["superset"].update(ports=["8088:8088"]), "host port 8088 also used"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_broken_compose_file_fails(tmp_path, case):
    mutate, problem = CASES[case]
    path = broken(tmp_path, mutate)
    try:
        code, _, err = check(path)
    finally:
        path.unlink()
    assert code == 1
    assert problem in err, err


def fake_docker(tmp_path, works):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "docker").write_text("#!/bin/sh\nexit %d\n" % (0 if works else 1))
    (bin_dir / "docker").chmod(0o755)
    import os
    return dict(os.environ, PATH=f"{bin_dir}:/usr/bin:/bin")


def test_start_infra_help_and_clear_errors(tmp_path):
    script = ROOT / "infra/start_infra.sh"
    res = subprocess.run(["bash", script, "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--full" in res.stdout
    res = subprocess.run(["bash", script], env=fake_docker(tmp_path, works=False), capture_output=True, text=True)
    assert res.returncode == 1 and "'docker compose' (Compose v2) is not available" in res.stderr
    res = subprocess.run(["bash", script, "--env-file", tmp_path / "none.env"], env=fake_docker(tmp_path, works=True),
                         capture_output=True, text=True)
    assert res.returncode == 1 and "none.env is missing" in res.stderr
    env_file = tmp_path / "partial.env"
    env_file.write_text((ROOT / "infra/compose.env.example").read_text().replace("MYSQL_ROOT_PASSWORD=", "MYSQL_ROOT_PASSWORD=x"))
    res = subprocess.run(["bash", script, "--env-file", env_file], env=fake_docker(tmp_path, works=True),
                         capture_output=True, text=True)
    assert res.returncode == 1 and "FINLAKE_CDC_PASSWORD is empty" in res.stderr
