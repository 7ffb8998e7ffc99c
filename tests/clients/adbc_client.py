"""Python ADBC (adbc-driver-flightsql) against finlake serve: DB-API queries to Arrow, a bound
parameter, and get_objects. Prints one JSON line. Usage: adbc_client.py HOST:PORT USER PASSWORD"""
import json
import sys

import adbc_driver_flightsql.dbapi as flight_sql

addr, user, password = sys.argv[1:4]
with flight_sql.connect(f"grpc://{addr}", db_kwargs={"username": user, "password": password}) as conn:
    out = {}
    with conn.cursor() as cur:
        for table in ("users", "transactions"):
            cur.execute(f"select count(*) as n from bronze.{table}")
            out[table] = cur.fetch_arrow_table().column("n")[0].as_py()
        cur.execute("select count(*) as n from bronze.users where id >= ?", parameters=(0,))
        out["param_count"] = cur.fetch_arrow_table().column("n")[0].as_py()
        cur.execute("select amount, merchant_city from bronze.transactions limit 5")
        t = cur.fetch_arrow_table()
        out["amount_type"] = str(t.schema.field("amount").type)
        out["city_type"] = str(t.schema.field("merchant_city").type)
    objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    out["catalogs"] = [c["catalog_name"] for c in objects]
    schemas = {s["db_schema_name"]: s for c in objects for s in (c["catalog_db_schemas"] or [])}
    bronze = schemas["bronze"]["db_schema_tables"] or []
    out["bronze_tables"] = [t["table_name"] for t in bronze]
    users = next(t for t in bronze if t["table_name"] == "users")
    out["users_columns"] = [c["column_name"] for c in users["table_columns"] or []]
print(json.dumps(out))
