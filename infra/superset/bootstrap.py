#!/usr/bin/env python3
"""Idempotent Superset bootstrap for finlake: migrates the metadata database (SQLite unless
SUPERSET_DATABASE_URI says otherwise), creates the admin user when missing, runs
`superset init`, and imports the dashboards-as-code bundle (infra/superset/bundle/) with the
Flight SQL connection to `finlake serve` filled in. Run it with Superset's own Python
(~/.cache/finlake/venv-superset/bin/python); a second run changes nothing but the
connection's URI (so a new password takes effect).

  SUPERSET_SECRET_KEY=... SUPERSET_CONFIG_PATH=infra/superset/superset_config.py \\
    python infra/superset/bootstrap.py --flight 127.0.0.1:50051 --flight-password ...

Every option can be given in the environment (shown in --help).
"""
import argparse
import io
import os
import pathlib
import sys
import tempfile
import urllib.parse
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
BUNDLE = HERE / "bundle"
PLACEHOLDER = "datafusion+flightsql://finlake:XXXXXXXXXX@127.0.0.1:50051?insecure=true"


def log(msg):
    print(f"superset-bootstrap: {msg}", flush=True)


def flight_uri(addr, user, password, tls):
    host, _, port = addr.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"superset-bootstrap: --flight {addr!r} is not HOST:PORT")
    creds = f"{urllib.parse.quote(user, safe='')}:{urllib.parse.quote(password, safe='')}@"
    query = "" if tls else "?insecure=true"
    return f"datafusion+flightsql://{creds}{host}:{port}{query}"


def bundle_zip(uri):
    """The bundle as the ZIP `superset import-dashboards` reads, the connection filled in."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path in sorted(BUNDLE.rglob("*.yaml")):
            text = path.read_text()
            if path.parent.name == "databases":
                if PLACEHOLDER not in text:
                    raise SystemExit(f"superset-bootstrap: {path} lacks the URI placeholder")
                text = text.replace(PLACEHOLDER, uri)
            z.writestr(f"finlake_dashboards/{path.relative_to(BUNDLE)}", text)
    return buf.getvalue()


class Superset:
    """Superset's own CLI commands, run in this process on one application (creating the app
    once instead of once per command)."""

    def __init__(self):
        from superset.app import create_app
        from superset.cli.main import superset as cli
        self.app = create_app()
        self.cli = cli
        self.runner = self.app.test_cli_runner()

    def __call__(self, *args):
        res = self.runner.invoke(self.cli, list(args))
        if res.exit_code != 0:
            sys.stderr.write(res.output[-4000:])
            if res.exception and not isinstance(res.exception, SystemExit):
                import traceback
                traceback.print_exception(res.exception, file=sys.stderr)
            raise SystemExit(f"superset-bootstrap: `superset {' '.join(args[:2])}` failed (exit {res.exit_code})")
        return res.output


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flight", default=env("FINLAKE_SUPERSET_FLIGHT", "127.0.0.1:50051"),
                    help="finlake serve's Flight SQL HOST:PORT as Superset reaches it (FINLAKE_SUPERSET_FLIGHT)")
    ap.add_argument("--flight-user", default=env("FINLAKE_FLIGHT_USER", "finlake"), help="(FINLAKE_FLIGHT_USER)")
    ap.add_argument("--flight-password", default=env("FINLAKE_FLIGHT_PASSWORD"),
                    help="(FINLAKE_FLIGHT_PASSWORD, required)")
    ap.add_argument("--flight-tls", action="store_true", default=env("FINLAKE_SUPERSET_FLIGHT_TLS") == "true",
                    help="the server speaks TLS (FINLAKE_SUPERSET_FLIGHT_TLS=true)")
    ap.add_argument("--admin-user", default=env("SUPERSET_ADMIN_USER", "admin"), help="(SUPERSET_ADMIN_USER)")
    ap.add_argument("--admin-password", default=env("SUPERSET_ADMIN_PASSWORD"),
                    help="(SUPERSET_ADMIN_PASSWORD, required)")
    ap.add_argument("--admin-email", default=env("SUPERSET_ADMIN_EMAIL", "admin@finlake.local"))
    args = ap.parse_args()
    for name in ("flight_password", "admin_password"):
        if not getattr(args, name):
            raise SystemExit(f"superset-bootstrap: --{name.replace('_', '-')} (or its variable) is required")
    if not env("SUPERSET_SECRET_KEY"):
        raise SystemExit("superset-bootstrap: SUPERSET_SECRET_KEY is not set")
    os.environ.setdefault("SUPERSET_CONFIG_PATH", str(HERE / "superset_config.py"))
    os.environ.setdefault("FLASK_APP", "superset")
    home = env("SUPERSET_HOME")
    if home:
        pathlib.Path(home).mkdir(parents=True, exist_ok=True)
    try:
        superset = Superset()
    except ImportError as e:
        raise SystemExit(f"superset-bootstrap: {e}; run it with Superset's Python "
                         "(~/.cache/finlake/venv-superset/bin/python)") from e

    log("migrating the metadata database")
    superset("db", "upgrade")
    from superset.extensions import security_manager
    with superset.app.app_context():
        exists = security_manager.find_user(username=args.admin_user) is not None
    if exists:
        log(f"admin user {args.admin_user} exists")
    else:
        log(f"creating admin user {args.admin_user}")
        superset("fab", "create-admin", "--username", args.admin_user, "--firstname", "finlake",
                 "--lastname", "admin", "--email", args.admin_email, "--password", args.admin_password)
    log("superset init (roles and permissions)")
    superset("init")
    uri = flight_uri(args.flight, args.flight_user, args.flight_password, args.flight_tls)
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "finlake_dashboards.zip"
        path.write_bytes(bundle_zip(uri))
        log(f"importing {BUNDLE.relative_to(HERE.parent.parent)} (Flight SQL at {args.flight})")
        superset("import-dashboards", "-p", str(path), "-u", args.admin_user)
    # The importer keeps an existing connection as it is: set the URI (and password) each time.
    superset("set-database-uri", "-d", "finlake", "-u", uri)
    log("ok")


if __name__ == "__main__":
    main()
