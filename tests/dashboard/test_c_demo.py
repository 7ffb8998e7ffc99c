"""`scripts/demo.sh` with DEMO_FOR in a fresh state directory: the server answers (Flight SQL
with the printed credentials), the dashboard answers, `verify` finds the lake equal, and
nothing is left running."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from conftest import ROOT, finlake_bin, free_port


def port_open(addr: str) -> bool:
    host, port = addr.rsplit(":", 1)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host, int(port))) == 0


def test_demo_for_a_fixed_time():
    tmp = Path(tempfile.mkdtemp(prefix="finlake-demo-"))
    env = dict(os.environ)
    for k in list(env):
        if k.startswith("FINLAKE_") and k not in ("FINLAKE_DASHBOARD_VENV",):
            env.pop(k)
    env.update(
        FINLAKE=finlake_bin(), FINLAKE_STATE_DIR=str(tmp / "state"), FINLAKE_LAKE_URI=str(tmp / "lake"),
        SCALE=os.environ.get("FINLAKE_DASHBOARD_TEST_SCALE", "0.005"), RATE="40", DEMO_FOR="60s",
        FLIGHT_ADDR="127.0.0.1:0", HTTP_ADDR="127.0.0.1:0", DASHBOARD_PORT=str(free_port()),
    )
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo.sh")], env=env, cwd=tmp, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    found: dict[str, str] = {}
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and proc.poll() is None:
            text = "".join(lines)
            m = re.search(r"Dashboard\s+(http://\S+)", text)
            f = re.search(r"Flight SQL\s+(\S+)\s+user (\S+)\s+password (\S+)", text)
            if m and f and "summary" not in found:
                found.update(dashboard=m.group(1), flight=f.group(1), user=f.group(2), password=f.group(3))
                import adbc_driver_flightsql.dbapi as flightsql

                with flightsql.connect(f"grpc://{found['flight']}", db_kwargs={"username": found["user"],
                                       "password": found["password"]}, autocommit=True) as c, c.cursor() as cur:
                    cur.execute("SELECT count(*) AS n FROM finlake.bronze.transactions")
                    found["server_rows"] = str(cur.fetchone()[0])
                with urllib.request.urlopen(found["dashboard"] + "/_stcore/health", timeout=5) as r:
                    found["dashboard_health"] = r.read().decode()
                with urllib.request.urlopen(found["dashboard"] + "/", timeout=5) as r:
                    found["dashboard_page"] = str(r.status)
                found["summary"] = "1"
            time.sleep(0.5)
        proc.wait(timeout=max(1, deadline - time.monotonic()))
        reader.join(5)
        out = "".join(lines)
        assert proc.returncode == 0, out[-5000:]
        assert found.get("server_rows", "").isdigit(), (found, out[-3000:])  # the server answered
        assert found.get("dashboard_health") == "ok" and found.get("dashboard_page") == "200", found
        assert re.search(r"tx/s\s+[\d,.]+\s+transactions", out), "no live summary line:\n" + out[-3000:]
        assert "verify: the lake equals the source" in out, out[-3000:]
        # Nothing left behind: the ports are closed and MariaDB of this state dir is stopped.
        assert not port_open(found["flight"]) and not port_open(found["dashboard"].removeprefix("http://")), found
        left = subprocess.run(["pgrep", "-f", str(tmp)], capture_output=True, text=True).stdout.split()
        assert not left, f"processes left running: {left}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        subprocess.run([finlake_bin(), "db", "stop"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)
