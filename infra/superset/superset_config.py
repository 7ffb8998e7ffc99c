"""Superset configuration for finlake (SUPERSET_CONFIG_PATH points here; the same file is
mounted into the Compose service). Everything comes from the environment:

  SUPERSET_SECRET_KEY     required: signs sessions and encrypts stored database passwords
  SUPERSET_HOME           where the SQLite metadata database lives (default ~/.superset)
  SUPERSET_DATABASE_URI   metadata database (default sqlite:///$SUPERSET_HOME/superset.db)
"""
import os

# flightsql-dbapi declares no SQLAlchemy entry point: importing it registers the
# `datafusion+flightsql://` dialect finlake's connection uses.
import flightsql.sqlalchemy  # noqa: F401

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
_home = os.environ.get("SUPERSET_HOME", os.path.expanduser("~/.superset"))
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_DATABASE_URI", "sqlite:///" + os.path.join(_home, "superset.db")
)
# The dashboards are served over plain HTTP on a private network or loopback.
TALISMAN_ENABLED = False
WTF_CSRF_ENABLED = True
# Flight SQL over loopback/the Compose network is the point of the deployment.
PREVENT_UNSAFE_DB_CONNECTIONS = False
# No Redis here: in-process caches only, results not cached between requests.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FEATURE_FLAGS = {"DASHBOARD_RBAC": False, "ALERT_REPORTS": False}
SUPERSET_WEBSERVER_TIMEOUT = 120
SQLLAB_TIMEOUT = 120
ROW_LIMIT = 10000
