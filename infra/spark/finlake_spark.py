#!/usr/bin/env python3
"""finlake's Spark Structured Streaming writer: Debezium topics -> the bronze Delta tables.

An alternative to `finlake ingest --source kafka` for volumes beyond one process. It reads the
same Debezium topics (`<prefix>.<database>.<table>`, JSON with or without the schema envelope),
decodes them to the same values, masks sensitive columns exactly as `src/ingest/mask.rs` does
(CVVs NULL, card numbers keyed hashes, in Python UDFs: the key is never in SQL text), and
applies the same semantics to the same Delta layout as `src/lake/bronze.rs`:

* `<lake>/bronze/<table>`: every source column under its source name and lake type
  (`src/lake/types.rs`), then `_pos_file, _pos, _pos_row, _op, _commit_ts, _ingested_at`, and
  `_part` = first key column / 1,000,000 for transactions and fraud_labels (partition column);
* per primary key the change with the highest source position wins; deletes delete; a key
  change deletes the old key and writes the new one; an event at or below the position a row
  holds changes nothing; streamed events older than what a topic-partition already delivered
  (Kafka Connect replays after a crash) are dropped (high-water marks in `<lake>/_spark/positions`);
* one MERGE per table per micro-batch, guarded by the position, committed with Delta
  `txnAppId = <app id>/<table>`, `txnVersion = <batch id>`: a micro-batch replayed after a
  crash changes nothing.

Table shapes come from the source's information_schema (as on the Rust side: the Debezium
messages carry no decimal precision). Run with the venv of `infra/spark/install.sh`:

    ~/.cache/finlake/spark/venv/bin/python infra/spark/finlake_spark.py run [--available-now]
    ~/.cache/finlake/spark/venv/bin/python infra/spark/finlake_spark.py mask NUMBER
    ~/.cache/finlake/spark/venv/bin/python infra/spark/finlake_spark.py check-masking

Settings are the `FINLAKE_*` variables of `finlake` (flags override them), see `--help`.
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import sys
import urllib.parse
from dataclasses import dataclass, field

TABLES = ["users", "cards", "mcc_codes", "transactions", "fraud_labels"]
PARTITION_ROWS = {"transactions": 1_000_000, "fraud_labels": 1_000_000}
JARS_DIR = os.path.expanduser(os.environ.get("FINLAKE_SPARK_JARS", "~/.cache/finlake/spark/jars"))
SNAPSHOT_SHIFT = 1 << 31
TWO_64 = "18446744073709551616"


# ---------------------------------------------------------------------------------------------
# Masking, as src/ingest/mask.rs (its module doc has the rules; the integration tests compare
# both): verification codes and PINs NULL, card numbers `hmac:<hash>:<last4>`, other
# identifiers `hmac:<hash>`; HMAC-SHA-256, domain then NUL-separated parts, first 16 bytes as
# hex. The HMACs run in Python UDFs with the key in a broadcast variable: the key (and its
# HMAC pads) never appear in SQL text, plans or their logs.

VERIFICATION = [["cvv"], ["cvv2"], ["cvc"], ["cvc2"], ["cvn"], ["cvn2"], ["csc"], ["cav2"], ["cvd"],
                ["security", "code"], ["securitycode"], ["verification", "code"],
                ["verification", "value"], ["verificationcode"], ["card", "verification"], ["pin"],
                ["pincode"], ["pinblock"], ["pinnumber"]]
CARD_NUMBER = [["card", "number"], ["card", "num"], ["card", "no"], ["card", "nbr"], ["cc", "number"],
               ["cc", "num"], ["cc", "no"], ["credit", "card"], ["debit", "card"], ["cardnumber"],
               ["cardnum"], ["cardno"], ["ccnumber"], ["ccnum"], ["ccn"], ["pan"], ["creditcard"],
               ["creditcardnumber"], ["debitcard"]]
IDENTIFIER = [["ssn"], ["social", "security"], ["socialsecurity"], ["account", "number"],
              ["account", "no"], ["account", "num"], ["acct", "number"], ["acct", "no"], ["acct", "num"],
              ["accountnumber"], ["acctnumber"], ["acctno"], ["iban"], ["tax", "id"], ["taxid"],
              ["national", "id"], ["passport"], ["password"], ["passwd"]]
NEVER_SECRET = {"date", "datetime", "timestamp", "time", "year", "bool", "boolean", "enum", "set"}
TEXT_TYPES = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext"}
DEMO_WORDS = ["demo", "test", "example", "sample", "changeme", "change-me", "change_me", "default",
              "placeholder", "mask-key", "mask_key", "password"]


def words(name: str) -> list[str]:
    """The lower-case words of a column name (split at non-alphanumerics and camelCase)."""
    out, cur = [], ""
    for i, c in enumerate(name):
        if not c.isalnum():
            if cur:
                out.append(cur)
            cur = ""
            continue
        prev = name[i - 1] if i > 0 else None
        nxt = name[i + 1] if i + 1 < len(name) else None
        boundary = c.isupper() and prev is not None and (
            prev.islower() or prev.isdigit() or (prev.isupper() and nxt is not None and nxt.islower())
        )
        if boundary and cur:
            out.append(cur)
            cur = ""
        cur += c.lower()
    if cur:
        out.append(cur)
    return out


def rule(name: str, column_type: str, is_key: bool = False) -> str | None:
    """'card_number', 'hash', 'null' or None, as mask.rs's column_rule."""
    base, args, _ = parse_type(column_type)
    if base in NEVER_SECRET or (base == "tinyint" and args == ["1"] and "unsigned" not in column_type.lower()):
        return None
    w = words(name)

    def has(patterns):
        return any(w[i:i + len(p)] == p for p in patterns for i in range(len(w) - len(p) + 1))

    text = base in TEXT_TYPES
    if has(VERIFICATION):
        r = "null"
    elif has(CARD_NUMBER):
        r = "card_number" if text else "null"
    elif has(IDENTIFIER):
        r = "hash" if text else "null"
    else:
        return None
    if r == "null" and is_key:
        return "hash" if text else None
    return r


def check_key(key: bytes):
    """mask.rs's Masker::checked: 16 bytes or more; a demo-looking key only with FINLAKE_DEMO=1."""
    if len(key) < 16:
        raise SystemExit("FINLAKE_MASK_KEY is not set (or shorter than 16 bytes)")
    if os.environ.get("FINLAKE_DEMO") in ("1", "true"):
        return
    lower = key.decode("utf-8", "replace").lower()
    why = next((w for w in DEMO_WORDS if w in lower), None)
    if why is None and len(set(key)) < 6:
        why = "a repeated character"
    if why:
        raise SystemExit(
            f"FINLAKE_MASK_KEY looks like a demo or test default (it contains {why!r} or too few distinct "
            "characters): set it to a long random value (openssl rand -hex 24), or set FINLAKE_DEMO=1 "
            "for a throwaway demo lake."
        )


def digest_py(key: bytes, domain: str, parts: list[str]) -> str:
    import hmac

    msg = domain.encode() + b"".join(b"\0" + p.encode() for p in parts)
    return hmac.new(key, msg, hashlib.sha256).digest()[:16].hex()


def mask_card_py(key: bytes, number: str) -> str:
    digits = "".join(c for c in number if c in "0123456789")
    return f"hmac:{digest_py(key, 'card_number', [digits])}:{digits[-4:]}"


def mask_identifier_py(key: bytes, value: str) -> str:
    return f"hmac:{digest_py(key, 'value', [value])}"


class Masks:
    """The masks as Spark columns: Python UDFs reading the key from a broadcast variable."""

    def __init__(self, spark, key: bytes):
        from pyspark.sql import functions as F

        check_key(key)
        bkey = spark.sparkContext.broadcast(key)

        def card(v):
            return v if v is None or v.startswith("hmac:") else mask_card_py(bkey.value, v)

        def ident(v):
            return v if v is None or v.startswith("hmac:") else mask_identifier_py(bkey.value, v)

        # Plain Python UDFs (the venv has no pandas/pyarrow for Arrow-optimised ones).
        self.udfs = {
            "card_number": F.udf(card, "string", useArrow=False),
            "hash": F.udf(ident, "string", useArrow=False),
        }

    def column(self, r: str, col):
        """The masked column for rule `r` of a source column (text, as the topics carry it)."""
        from pyspark.sql import functions as F

        if r == "null":
            return F.lit(None).cast("string")
        return self.udfs[r](col)


# ---------------------------------------------------------------------------------------------
# Table shapes from information_schema, mapped like src/ingest/schema.rs + src/lake/types.rs.


@dataclass
class Column:
    name: str
    column_type: str
    nullable: bool


@dataclass
class Table:
    name: str
    columns: list[Column]
    key: list[str]
    partition_rows: int | None = None
    _types: dict = field(default_factory=dict)


def source_tables(url: str, names: list[str]) -> list[Table]:
    import pymysql

    u = urllib.parse.urlparse(url)
    database = urllib.parse.unquote(u.path.lstrip("/"))
    conn = pymysql.connect(
        host=u.hostname or "127.0.0.1",
        port=u.port or 3306,
        user=urllib.parse.unquote(u.username or ""),
        password=urllib.parse.unquote(u.password or ""),
        database=database,
    )
    try:
        with conn.cursor() as cur:
            out = []
            for name in names:
                cur.execute(
                    "SELECT column_name, column_type, is_nullable FROM information_schema.columns "
                    "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                    (database, name),
                )
                cols = [Column(n, t, nul == "YES") for n, t, nul in cur.fetchall()]
                cur.execute(
                    "SELECT column_name FROM information_schema.key_column_usage WHERE "
                    "table_schema = %s AND table_name = %s AND constraint_name = 'PRIMARY' "
                    "ORDER BY ordinal_position",
                    (database, name),
                )
                key = [r[0] for r in cur.fetchall()]
                if not cols or not key:
                    raise SystemExit(f"table {database}.{name}: missing or without primary key")
                out.append(Table(name, cols, key, PARTITION_ROWS.get(name)))
            return out
    finally:
        conn.close()


def parse_type(column_type: str) -> tuple[str, list[str], bool]:
    t = column_type.strip().lower()
    unsigned = "unsigned" in t
    m = re.match(r"([a-z]+)\s*(?:\((.*)\))?", t)
    if not m:
        raise SystemExit(f"unknown column type {column_type!r}")
    args = [a.strip() for a in (m.group(2) or "").split(",") if a.strip()]
    return m.group(1), args, unsigned


INT_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "integer": 32, "bigint": 64}
TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json"}
BYTES = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}


def lake_type(column_type: str) -> str:
    """The Spark SQL type of a source column in the lake (= types.rs's Arrow type)."""
    base, args, unsigned = parse_type(column_type)
    if (base == "tinyint" and args == ["1"] and not unsigned) or base in ("bool", "boolean"):
        return "BOOLEAN"
    if base in INT_BITS:
        bits = INT_BITS[base]
        if unsigned:
            return {8: "SMALLINT", 16: "INT", 24: "INT", 32: "BIGINT"}.get(bits, "DECIMAL(20,0)")
        return {8: "TINYINT", 16: "SMALLINT", 24: "INT", 32: "INT"}.get(bits, "BIGINT")
    if base in ("decimal", "numeric"):
        p = int(args[0]) if args else 10
        s = int(args[1]) if len(args) > 1 else 0
        return f"DECIMAL({p},{s})"
    if base == "float":
        return "FLOAT"
    if base in ("double", "real"):
        return "DOUBLE"
    if base in TEXT:
        return "STRING"
    if base in BYTES:
        return "BINARY"
    if base == "date":
        return "DATE"
    if base == "datetime":
        return "TIMESTAMP_NTZ"
    if base == "timestamp":
        return "TIMESTAMP"
    if base == "time":
        return "BIGINT"
    if base == "year":
        return "SMALLINT"
    raise SystemExit(f"unsupported column type {column_type!r}")


def value_expr(col: str, column_type: str) -> str:
    """Debezium's JSON value (as text) to the lake type, as debezium.rs decodes it."""
    base, args, unsigned = parse_type(column_type)
    target = lake_type(column_type)
    if target == "BOOLEAN":
        return f"CASE WHEN {col} IN ('true', 'false') THEN {col} = 'true' ELSE CAST({col} AS BIGINT) <> 0 END"
    if target == "DECIMAL(20,0)" and base == "bigint":
        # bigint.unsigned.handling.mode=long: the 64-bit pattern, read back unsigned.
        d = f"CAST({col} AS DECIMAL(20,0))"
        return f"CAST(CASE WHEN {d} < 0 THEN {d} + {TWO_64} ELSE {d} END AS DECIMAL(20,0))"
    if base == "date":
        return f"date_from_unix_date(CAST({col} AS INT))"
    if base == "datetime":
        fsp = int(args[0]) if args else 0
        f = "timestamp_millis" if fsp <= 3 else "timestamp_micros"
        # Epoch milli/microseconds of the wall clock read as UTC (session time zone UTC).
        return f"CAST({f}(CAST({col} AS BIGINT)) AS TIMESTAMP_NTZ)"
    if base == "timestamp":
        return f"CAST({col} AS TIMESTAMP)"
    if base in BYTES:
        return f"unhex({col})"
    if target == "STRING":
        return col
    return f"CAST({col} AS {target})"


# ---------------------------------------------------------------------------------------------
# Spark


def spark_session(args):
    from pyspark.sql import SparkSession

    # The masking UDFs run in Python workers: the driver's interpreter, not whatever
    # `python3` is first on PATH (its version must match).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    jars = sorted(glob.glob(os.path.join(JARS_DIR, "*.jar")))
    if not jars:
        raise SystemExit(f"no jars under {JARS_DIR}: run infra/spark/install.sh")
    b = (
        SparkSession.builder.appName("finlake-spark")
        .master(args.master)
        .config("spark.jars", ",".join(jars))
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.sql.streaming.numRecentProgressUpdates", "1000")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "false")
        .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
    )
    if args.s3_endpoint:
        h = "spark.hadoop.fs.s3a."
        b = (
            b.config(h + "endpoint", args.s3_endpoint)
            .config(h + "access.key", args.s3_access_key or "")
            .config(h + "secret.key", args.s3_secret_key or "")
            .config(h + "path.style.access", "true")
            .config(h + "connection.ssl.enabled", "false")
            .config(h + "endpoint.region", args.s3_region)
            .config(h + "impl", "org.apache.hadoop.fs.s3a.S3AFileSystem")
            .config(h + "aws.credentials.provider", "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider")
        )
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def lake_root(uri: str) -> str:
    uri = uri.rstrip("/")
    if uri.startswith("s3://"):
        uri = "s3a://" + uri[len("s3://"):]
    return uri


def table_ddl(t: Table) -> str:
    cols = []
    for c in t.columns:
        # A column masked to NULL (a CVV) is nullable in the lake, as types.rs makes it.
        nullable = c.nullable or rule(c.name, c.column_type, c.name in t.key) == "null"
        null = "" if nullable and c.name not in t.key else " NOT NULL"
        cols.append(f"`{c.name}` {lake_type(c.column_type)}{null}")
    cols += [
        "`_pos_file` STRING NOT NULL",
        "`_pos` BIGINT NOT NULL",
        "`_pos_row` INT NOT NULL",
        "`_op` STRING NOT NULL",
        "`_commit_ts` TIMESTAMP",
        "`_ingested_at` TIMESTAMP NOT NULL",
    ]
    if t.partition_rows:
        cols.append("`_part` BIGINT NOT NULL")
    return ", ".join(cols)


def ensure_tables(spark, root: str, tables: list[Table]):
    from delta.tables import DeltaTable

    for t in tables:
        path = f"{root}/bronze/{t.name}"
        if DeltaTable.isDeltaTable(spark, path):
            continue
        part = "PARTITIONED BY (_part)" if t.partition_rows else ""
        spark.sql(
            f"CREATE TABLE IF NOT EXISTS delta.`{path}` ({table_ddl(t)}) USING DELTA {part} "
            "TBLPROPERTIES ('delta.enableDeletionVectors' = 'false')"
        )


def payload_schema(t: Table) -> str:
    image = ", ".join(f"`{c.name}` STRING" for c in t.columns)
    return (
        f"op STRING, before STRUCT<{image}>, after STRUCT<{image}>, "
        "source STRUCT<file STRING, pos BIGINT, row BIGINT, snapshot STRING, ts_ms BIGINT>"
    )


def effects(df, t: Table):
    """Decoded, masked, positioned net effects (one row per key) of a batch of one topic."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    ps = payload_schema(t)
    df = df.where("value IS NOT NULL AND length(value) > 0").select(
        "partition",
        "offset",
        F.expr(f"from_json(value, 'payload STRUCT<{ps}>')").alias("env"),
        F.expr(f"from_json(value, '{ps}')").alias("bare"),
    )
    df = df.select(
        "partition", "offset", F.expr("CASE WHEN env.payload IS NOT NULL THEN env.payload ELSE bare END").alias("p")
    ).where("p.op IN ('r', 'c', 'u', 'd') AND p.source.file IS NOT NULL")
    snap = "(p.op = 'r' OR (p.source.snapshot IS NOT NULL AND p.source.snapshot <> 'false'))"
    row = "CAST(coalesce(p.source.row, 0) AS BIGINT)"
    df = df.selectExpr(
        "partition",
        "offset",
        "p",
        f"{snap} AS snap",
        "struct(p.source.file AS f, p.source.pos AS o, "
        f"CAST(CASE WHEN {snap} THEN {row} - {SNAPSHOT_SHIFT} ELSE {row} END AS INT) AS r) AS pos",
    )
    return df


def expand(df, t: Table, masks: Masks):
    """Events to effects (upsert of the after image; delete of the before key; both for a key
    change), masked and typed, reduced to the highest position per key."""
    from pyspark.sql import functions as F
    from pyspark.sql.window import Window

    key_changed = " OR ".join(f"NOT (p.before.`{k}` <=> p.after.`{k}`)" for k in t.key)
    eff = df.selectExpr(
        "partition",
        "offset",
        "pos",
        "p.source.ts_ms AS ts_ms",
        f"""explode(CASE
            WHEN p.op = 'd' THEN array(named_struct('img', p.before, 'del', true))
            WHEN p.op = 'u' AND p.before IS NOT NULL AND ({key_changed})
              THEN array(named_struct('img', p.before, 'del', true), named_struct('img', p.after, 'del', false))
            ELSE array(named_struct('img', p.after, 'del', false)) END) AS e""",
    ).where("e.img IS NOT NULL")
    w = Window.partitionBy(*[F.col(f"e.img.`{k}`") for k in t.key]).orderBy(
        F.col("pos").desc(), F.col("e.del").asc(), F.col("partition").desc(), F.col("offset").desc()
    )
    eff = eff.withColumn("_rank", F.row_number().over(w)).where("_rank = 1")
    cols = []
    for i, c in enumerate(t.columns):
        raw = f"e.img.`{c.name}`"
        r = rule(c.name, c.column_type, c.name in t.key)
        if r is not None:
            eff = eff.withColumn(f"__masked_{i}", masks.column(r, F.col(raw)))
            raw = f"`__masked_{i}`"
        cols.append(f"{value_expr(raw, c.column_type)} AS `{c.name}`")
    cols += [
        "pos.f AS _pos_file",
        "pos.o AS _pos",
        "pos.r AS _pos_row",
        "CASE WHEN pos.r < 0 THEN 'r' ELSE 'u' END AS _op",
        "timestamp_millis(coalesce(ts_ms, 0)) AS _commit_ts",
        "current_timestamp() AS _ingested_at",
        "e.del AS __delete",
    ]
    out = eff.selectExpr(*cols)
    if t.partition_rows:
        k = t.key[0]
        out = out.withColumn("_part", F.expr(f"CAST(floor(`{k}` / {t.partition_rows}) AS BIGINT)"))
    return out


class Writer:
    def __init__(self, spark, args, tables: list[Table], masks: Masks):
        self.spark, self.args, self.masks = spark, args, masks
        self.root = lake_root(args.lake)
        self.tables = {topic_name(args, t.name): t for t in tables}
        self.positions = f"{self.root}/_spark/positions"

    def high_water(self):
        from delta.tables import DeltaTable

        if not DeltaTable.isDeltaTable(self.spark, self.positions):
            return None
        return self.spark.read.format("delta").load(self.positions)

    def batch(self, df, batch_id: int):
        from pyspark.sql import functions as F
        from pyspark.sql.window import Window

        spark = self.spark
        df = df.selectExpr("topic", "partition", "offset", "CAST(value AS STRING) AS value").persist()
        try:
            present = {r["topic"] for r in df.select("topic").distinct().collect()}
            if not present:
                return
            hw = self.high_water()
            marks = []
            for topic, t in self.tables.items():
                if topic not in present:
                    continue
                events = effects(df.where(F.col("topic") == topic), t)
                # Streamed events older than what the partition delivered before are replays.
                w = Window.partitionBy("partition").orderBy("offset").rowsBetween(Window.unboundedPreceding, -1)
                events = events.withColumn("_prev", F.max("pos").over(w))
                if hw is not None:
                    h = hw.where(F.col("topic") == topic).selectExpr("partition", "pos AS _hw")
                    events = events.join(F.broadcast(h), "partition", "left")
                else:
                    events = events.withColumn("_hw", F.lit(None).cast(events.schema["pos"].dataType))
                events = events.withColumn("_seen", F.expr("greatest(_prev, _hw)")).persist()
                marks.append(
                    events.groupBy("partition")
                    .agg(F.max("pos").alias("pos"))
                    .selectExpr(f"'{topic}' AS topic", "partition", "pos")
                )
                fresh = events.where("snap OR _seen IS NULL OR pos >= _seen")
                src = expand(fresh, t, self.masks)
                self.merge(t, src, batch_id)
                events.unpersist()
            self.save_marks(hw, marks, batch_id)
        finally:
            df.unpersist()

    def merge(self, t: Table, src, batch_id: int):
        from delta.tables import DeltaTable

        if src.isEmpty():
            return
        path = f"{self.root}/bronze/{t.name}"
        on = [f"t.`{k}` = s.`{k}`" for k in t.key]
        if t.partition_rows:
            on.append("t._part = s._part")
        newer = (
            "(s._pos_file > t._pos_file OR (s._pos_file = t._pos_file AND "
            "(s._pos > t._pos OR (s._pos = t._pos AND s._pos_row > t._pos_row))))"
        )
        names = [c.name for c in t.columns] + ["_pos_file", "_pos", "_pos_row", "_commit_ts", "_ingested_at"]
        if t.partition_rows:
            names.append("_part")
        upd = {f"`{n}`": f"s.`{n}`" for n in names}
        ins = dict(upd)
        upd["_op"] = "CASE WHEN s._pos_row < 0 THEN 'r' ELSE 'u' END"
        ins["_op"] = "CASE WHEN s._pos_row < 0 THEN 'r' ELSE 'c' END"
        conf = self.spark.conf
        conf.set("spark.databricks.delta.write.txnAppId", f"{self.args.app_id}/{t.name}")
        conf.set("spark.databricks.delta.write.txnVersion", str(batch_id))
        try:
            (
                DeltaTable.forPath(self.spark, path)
                .alias("t")
                .merge(src.alias("s"), " AND ".join(on))
                .whenMatchedDelete(condition=f"s.__delete AND {newer}")
                .whenMatchedUpdate(condition=f"NOT s.__delete AND {newer}", set=upd)
                .whenNotMatchedInsert(condition="NOT s.__delete", values=ins)
                .execute()
            )
        finally:
            conf.unset("spark.databricks.delta.write.txnAppId")
            conf.unset("spark.databricks.delta.write.txnVersion")

    def save_marks(self, hw, marks, batch_id: int):
        from functools import reduce

        from pyspark.sql import functions as F

        new = reduce(lambda a, b: a.unionByName(b), marks)
        if hw is not None:
            new = new.unionByName(hw.select("topic", "partition", "pos"))
        new = new.groupBy("topic", "partition").agg(F.max("pos").alias("pos"))
        (
            new.write.format("delta")
            .mode("overwrite")
            .option("txnAppId", f"{self.args.app_id}/positions")
            .option("txnVersion", batch_id)
            .save(self.positions)
        )


def topic_name(args, table: str) -> str:
    return f"{args.topic_prefix}.{args.database}.{table}"


def run(args) -> int:
    key = os.environ.get("FINLAKE_MASK_KEY", "").encode()
    check_key(key)
    if not args.source_url:
        raise SystemExit("FINLAKE_SOURCE_URL (or --source-url) is needed for the table shapes")
    if not args.database:
        args.database = urllib.parse.unquote(urllib.parse.urlparse(args.source_url).path.lstrip("/"))
    tables = source_tables(args.source_url, args.tables.split(","))
    spark = spark_session(args)
    masks = Masks(spark, key)
    check_masking(spark, key, masks)
    writer = Writer(spark, args, tables, masks)
    ensure_tables(spark, writer.root, tables)
    pattern = "^" + "|".join(re.escape(t) for t in writer.tables) + "$"
    stream = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.brokers)
        .option("subscribePattern", pattern)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(args.max_offsets))
        .load()
    )
    trigger = {"availableNow": True} if args.available_now else {"processingTime": args.interval}
    query = (
        stream.writeStream.foreachBatch(writer.batch)
        .option("checkpointLocation", args.checkpoint or f"{writer.root}/_spark/checkpoint")
        .trigger(**trigger)
        .start()
    )
    query.awaitTermination()
    progress = [p for p in query.recentProgress if p.get("numInputRows")]
    rows = sum(p["numInputRows"] for p in progress)
    busy = sum(p.get("durationMs", {}).get("triggerExecution", 0) for p in progress) / 1000
    print(
        f"finlake-spark: applied {rows} messages in {len(progress)} micro-batches ({busy:.1f} s in them)",
        flush=True,
    )
    spark.stop()
    return 0


def check_masking(spark, key: bytes, masks: Masks) -> list[str]:
    """The UDF masks equal the Python reference (mask.rs's, which the integration tests check)
    and no plan of a masking query carries the key or its HMAC pads. Returns the masks."""
    from pyspark.sql import functions as F

    samples = ["4344676511950444", "5 4 1 2-0000", "", "hmac:00:0444", None]
    df = spark.createDataFrame([(s,) for s in samples], "v STRING")
    df = df.select(
        masks.column("card_number", F.col("v")).alias("n"),
        masks.column("hash", F.col("v")).alias("h"),
        masks.column("null", F.col("v")).alias("z"),
    )
    plans = df._jdf.queryExecution().toString()
    padded = key if len(key) <= 64 else hashlib.sha256(key).digest()
    padded = padded.ljust(64, b"\0")
    secrets = [key.decode("utf-8", "replace"), key.hex()] + [bytes(b ^ p for b in padded).hex() for p in (0x36, 0x5C)]
    if any(x.lower() in plans.lower() for x in secrets):
        raise SystemExit("the masking query's plan carries the mask key or its HMAC pads")
    out = []
    for v, row in zip(samples, df.collect()):
        masked = v is None or v.startswith("hmac:")
        want_n = v if masked else mask_card_py(key, v)
        want_h = v if masked else mask_identifier_py(key, v)
        if row.n != want_n or row.h != want_h or row.z is not None:
            raise SystemExit(f"masking in Spark differs from HMAC for sample {samples.index(v)}")
        out += [row.n, row.h]
    return out


def main(argv=None) -> int:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="apply the Debezium topics to the bronze tables")
    r.add_argument("--brokers", default=env("FINLAKE_KAFKA_BROKERS", "127.0.0.1:9092"))
    r.add_argument("--topic-prefix", default=env("FINLAKE_KAFKA_TOPIC_PREFIX", "finance"))
    r.add_argument("--database", default=env("FINLAKE_SPARK_DATABASE"), help="default: from the source URL")
    r.add_argument("--source-url", default=env("FINLAKE_SOURCE_URL"))
    r.add_argument("--lake", default=env("FINLAKE_LAKE_URI", "lakehouse"), help="s3://, s3a:// or a path")
    r.add_argument("--checkpoint", default=env("FINLAKE_SPARK_CHECKPOINT"), help="default <lake>/_spark/checkpoint")
    r.add_argument("--app-id", default=env("FINLAKE_SPARK_APP_ID", "finlake-spark"))
    r.add_argument("--tables", default=",".join(TABLES))
    r.add_argument("--s3-endpoint", default=env("FINLAKE_S3_ENDPOINT"))
    r.add_argument("--s3-access-key", default=env("FINLAKE_S3_ACCESS_KEY_ID"))
    r.add_argument("--s3-secret-key", default=env("FINLAKE_S3_SECRET_ACCESS_KEY"))
    r.add_argument("--s3-region", default=env("FINLAKE_S3_REGION", "us-east-1"))
    r.add_argument("--master", default=env("FINLAKE_SPARK_MASTER", "local[2]"))
    r.add_argument("--driver-memory", default=env("FINLAKE_SPARK_DRIVER_MEMORY", "1g"))
    r.add_argument("--max-offsets", type=int, default=int(env("FINLAKE_SPARK_MAX_OFFSETS", "200000")))
    r.add_argument("--available-now", action="store_true", help="apply what is there, then exit")
    r.add_argument("--interval", default="1 second", help="micro-batch interval when continuous")
    m = sub.add_parser("mask", help="print the mask of a card number under FINLAKE_MASK_KEY (CVVs are never kept)")
    m.add_argument("number")
    ru = sub.add_parser("rules", help="print the masking rule of each NAME:COLUMN_TYPE[:key] (none, null, ...)")
    ru.add_argument("columns", nargs="+")
    c = sub.add_parser("check-masking", help="mask samples in a local Spark session; check no plan holds the key")
    c.add_argument("--master", default=env("FINLAKE_SPARK_MASTER", "local[1]"))
    c.add_argument("--driver-memory", default=env("FINLAKE_SPARK_DRIVER_MEMORY", "1g"))
    c.add_argument("--s3-endpoint", default=None)
    args = p.parse_args(argv)
    if args.command == "mask":
        key = env("FINLAKE_MASK_KEY", "").encode()
        check_key(key)
        print(mask_card_py(key, args.number))
        return 0
    if args.command == "rules":
        for spec in args.columns:
            name, column_type, *key = spec.split(":")
            print(rule(name, column_type, key == ["key"]) or "none")
        return 0
    if args.command == "check-masking":
        key = env("FINLAKE_MASK_KEY", "").encode()
        check_key(key)
        spark = spark_session(args)
        for m in check_masking(spark, key, Masks(spark, key)):
            print(m)
        print("masking checked: the plans hold neither the key nor its HMAC pads", flush=True)
        spark.stop()
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
