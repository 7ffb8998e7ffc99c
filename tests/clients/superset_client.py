"""Superset's Flight SQL dialect (flightsql-dbapi, SQLAlchemy < 2) against finlake serve: what
Superset reads when a database is added and a dataset explored. Prints one JSON line.
Usage: superset_client.py HOST:PORT USER PASSWORD"""
import json
import sys

import flightsql.sqlalchemy  # noqa: F401  registers the datafusion+flightsql:// name
from sqlalchemy import create_engine, inspect, text

addr, user, password = sys.argv[1:4]
host, port = addr.rsplit(":", 1)
engine = create_engine(
    f"datafusion+flightsql://{user}:{password}@{host}:{port}"
    "?insecure=true&feature-sqlalchemy-primary-keys=on"
)
insp = inspect(engine)
out = {
    "schemas": insp.get_schema_names(),
    "tables": insp.get_table_names(schema="bronze"),
    "columns": [c["name"] for c in insp.get_columns("transactions", schema="bronze")],
    "pk": insp.get_pk_constraint("transactions", schema="bronze")["constrained_columns"],
}
with engine.connect() as conn:
    out["count"] = conn.execute(text("select count(*) from bronze.transactions")).scalar()
print(json.dumps(out))
