"""Writes infra/superset/bundle/ (the dashboards as code, in the YAML export format that
`superset import-dashboards` reads). Edit this file, run it, commit both:

    ~/.cache/finlake/venv-superset/bin/python infra/superset/make_bundle.py
"""
import json, pathlib, shutil, uuid, yaml

OUT = pathlib.Path(__file__).resolve().parent / "bundle"
NS = uuid.UUID("6b1c7a3e-9f0d-4c1e-a7c2-5f1a2b3c4d5e")
U = lambda name: str(uuid.uuid5(NS, name))
DB_UUID = U("database:finlake")

def col(name, typ, dttm=False, groupby=True):
    return {"column_name": name, "verbose_name": None, "is_dttm": dttm, "is_active": True,
            "type": typ, "advanced_data_type": None, "groupby": groupby, "filterable": True,
            "expression": None, "description": None, "python_date_format": None, "extra": None}

TS = "TIMESTAMP"; STR = "VARCHAR"; INT = "BIGINT"; DBL = "DOUBLE"; DEC = "DECIMAL"; BOOL = "BOOLEAN"; DATE = "DATE"
DATASETS = {
    "minute_metrics": dict(schema="gold", sql=None, dttm="minute",
        desc="Per-minute volume, spend, refunds and errors by channel, MCC and merchant location (reflection tx_minute).",
        columns=[col("minute", TS, True), col("channel", STR), col("mcc", INT), col("location_kind", STR),
                 col("merchant_location", STR), col("tx_count", INT), col("amount", DEC), col("refunds", INT),
                 col("online", INT), col("online_share", DBL), col("errors", INT), col("error_rate", DBL)]),
    "transactions_base": dict(schema="silver", sql=None, dttm="day",
        desc="One row per transaction; charts aggregate it by month and channel (dims of reflection tx_month_mcc).",
        columns=[col("id", INT), col("ts", TS, True), col("minute", TS, True), col("day", DATE, True),
                 col("month", DATE, True), col("client_id", INT), col("card_id", INT), col("amount", DEC),
                 col("is_refund", BOOL), col("channel", STR), col("merchant_id", INT), col("location_kind", STR),
                 col("merchant_location", STR), col("mcc", INT), col("has_error", BOOL),
                 col("is_refund_n", INT), col("is_online_n", INT), col("has_error_n", INT)]),
    "fraud_label_stats": dict(schema="gold", sql=None, dttm=None,
        desc="Fraud labels by channel, merchant location kind and home-state flag.",
        columns=[col("channel", STR), col("location_kind", STR), col("out_of_home_state", BOOL),
                 col("tx_count", INT), col("labelled", INT), col("frauds", INT), col("fraud_rate", DBL),
                 col("fraud_amount", DEC)]),
    "mcc_risk": dict(schema="gold", sql=None, dttm=None,
        desc="Per merchant category: volume, fraud count and rate among labelled transactions.",
        columns=[col("mcc", INT), col("mcc_description", STR), col("tx_count", INT), col("amount", DEC),
                 col("labelled", INT), col("frauds", INT), col("fraud_rate", DBL)]),
    "merchant_risk": dict(schema="gold", sql=None, dttm=None,
        desc="Per merchant: volume, fraud count and rate, error rate.",
        columns=[col("merchant_id", INT), col("tx_count", INT), col("amount", DEC), col("labelled", INT),
                 col("frauds", INT), col("fraud_rate", DBL), col("error_rate", DBL)]),
    "fraud_alerts": dict(schema="features", sql=None, dttm="ts",
        desc="Alerts of the streaming fraud features (score >= 50) with their reason codes.",
        columns=[col("transaction_id", STR), col("card_id", INT), col("client_id", INT), col("ts", TS, True),
                 col("amount", DEC), col("score", INT), col("reasons", STR), col("_detected_at", TS, True)]),
    "fraud_alert_reasons": dict(schema="features", dttm="ts",
        sql="SELECT unnest(string_to_array(reasons, ',')) AS reason, ts, score, amount\nFROM features.fraud_alerts",
        desc="One row per alert and reason code (virtual dataset over features.fraud_alerts).",
        columns=[col("reason", STR), col("ts", TS, True), col("score", INT), col("amount", DEC)]),
}

def metric(label, sql):
    return {"expressionType": "SQL", "sqlExpression": sql, "label": label, "hasCustomLabel": True,
            "optionName": "metric_" + label.replace(" ", "_")}

# The last 24 hours up to now (Superset's "Last day" is yesterday's calendar day).
LAST_24H = 'DATEADD(DATETIME("now"), -24, hour) : now'
LAST_DAY = {"col": "minute", "op": "TEMPORAL_RANGE", "val": LAST_24H}
def adhoc_time(colname):
    return [{"clause": "WHERE", "comparator": LAST_24H, "expressionType": "SIMPLE",
             "operator": "TEMPORAL_RANGE", "subject": colname}]

CHARTS = {}  # key -> (dashboard, title, viz, dataset, params, query)
def chart(dash, key, title, viz, ds, params, query, width=4, height=50):
    CHARTS[key] = dict(dash=dash, title=title, viz=viz, ds=ds, params=params, query=query, width=width, height=height)

def big_number(dash, key, title, ds, m, time_col=None, subheader="", fmt="SMART_NUMBER"):
    params = {"viz_type": "big_number_total", "metric": m, "adhoc_filters": adhoc_time(time_col) if time_col else [],
              "header_font_size": 0.4, "subheader_font_size": 0.15, "y_axis_format": fmt,
              "subheader": subheader}
    query = {"columns": [], "metrics": [m], "filters": [dict(LAST_DAY, col=time_col)] if time_col else [],
             "orderby": [], "row_limit": 10}
    chart(dash, key, title, "big_number_total", ds, params, query, width=3, height=30)

def timeseries(dash, key, title, viz, ds, x, metrics, groupby=(), time_col=None, width=6, time_format="%H:%M"):
    params = {"viz_type": viz, "x_axis": x, "time_grain_sqla": None, "metrics": metrics, "groupby": list(groupby),
              "adhoc_filters": adhoc_time(time_col) if time_col else [], "row_limit": 10000,
              "truncate_metric": True, "show_legend": True, "legendType": "scroll", "legendOrientation": "top",
              "x_axis_time_format": time_format, "tooltipTimeFormat": time_format, "rich_tooltip": True, "y_axis_format": "SMART_NUMBER",
              "color_scheme": "supersetColors", "markerEnabled": True, "markerSize": 4,
              "x_axis_sort_asc": True, "zoomable": False}
    query = {"columns": [{"columnType": "BASE_AXIS", "sqlExpression": x, "label": x, "expressionType": "SQL"}]
                        + list(groupby),
             "metrics": metrics, "filters": [dict(LAST_DAY, col=time_col)] if time_col else [],
             "orderby": [[metrics[0], False]] if groupby else [], "row_limit": 10000, "series_columns": list(groupby),
             "is_timeseries": False}
    chart(dash, key, title, viz, ds, params, query, width=width)

def category_bar(dash, key, title, ds, x, m, width=6, limit=20):
    params = {"viz_type": "echarts_timeseries_bar", "x_axis": x, "metrics": [m], "groupby": [], "adhoc_filters": [],
              "row_limit": limit, "orientation": "horizontal", "x_axis_sort": m["label"], "x_axis_sort_asc": False,
              "show_legend": False, "y_axis_format": "SMART_NUMBER", "color_scheme": "supersetColors",
              "show_value": True}
    query = {"columns": [{"columnType": "BASE_AXIS", "sqlExpression": x, "label": x, "expressionType": "SQL"}],
             "metrics": [m], "filters": [], "orderby": [[m, False]], "row_limit": limit}
    chart(dash, key, title, "echarts_timeseries_bar", ds, params, query, width=width)

def table(dash, key, title, ds, columns, order, limit, width=6, height=50):
    params = {"viz_type": "table", "query_mode": "raw", "all_columns": columns,
              "order_by_cols": [json.dumps([c, asc]) for c, asc in order], "row_limit": limit,
              "adhoc_filters": [], "server_pagination": False, "include_search": False,
              "table_timestamp_format": "%Y-%m-%d %H:%M:%S", "show_cell_bars": False, "color_pn": False,
              "column_config": {**{c: {"d3NumberFormat": ".2%"} for c in columns if c.endswith("_rate")},
                                **{c: {"d3NumberFormat": ",.2f"} for c in columns if c == "amount"}}}
    query = {"columns": columns, "metrics": [], "filters": [], "orderby": [[c, asc] for c, asc in order],
             "row_limit": limit}
    chart(dash, key, title, "table", ds, params, query, width=width, height=height)

OPS, FRAUD = "operations", "fraud"
TXN = metric("transactions", "SUM(tx_count)")
SPEND = metric("spend", "SUM(amount)")
REFUNDS = metric("refunds", "SUM(refunds)")
ERRORS = metric("errors", "SUM(errors)")
big_number(OPS, "ops_tx_24h", "Transactions, last 24 h", "minute_metrics", TXN, "minute")
big_number(OPS, "ops_spend_24h", "Spend, last 24 h", "minute_metrics", SPEND, "minute")
big_number(OPS, "ops_refunds_24h", "Refunds, last 24 h", "minute_metrics", REFUNDS, "minute")
big_number(OPS, "ops_errors_24h", "Transactions with errors, last 24 h", "minute_metrics", ERRORS, "minute")
timeseries(OPS, "ops_volume_minute", "Volume per minute by channel", "echarts_timeseries_line", "minute_metrics", "minute", [TXN], ["channel"], "minute")
timeseries(OPS, "ops_spend_minute", "Spend per minute", "echarts_timeseries_line", "minute_metrics", "minute", [SPEND], [], "minute")
timeseries(OPS, "ops_refunds_minute", "Refunds per minute", "echarts_timeseries_bar", "minute_metrics", "minute", [REFUNDS], [], "minute")
timeseries(OPS, "ops_errors_minute", "Transactions with errors per minute", "echarts_timeseries_line", "minute_metrics", "minute", [ERRORS], [], "minute")
timeseries(OPS, "ops_monthly_history", "Monthly volume by channel, all history",
           "echarts_timeseries_line", "transactions_base", "month", [metric("transactions", "COUNT(*)")], ["channel"],
           None, width=12, time_format="%Y-%m")

ALERTS = metric("alerts", "COUNT(*)")
big_number(FRAUD, "fraud_alerts_total", "Fraud alerts", "fraud_alerts", ALERTS)
big_number(FRAUD, "fraud_alerts_score", "Mean alert score", "fraud_alerts", metric("mean score", "AVG(score)"),
           fmt=".1f")
big_number(FRAUD, "fraud_labelled_frauds", "Labelled frauds", "fraud_label_stats", metric("frauds", "SUM(frauds)"))
big_number(FRAUD, "fraud_rate", "Fraud rate among labelled", "fraud_label_stats",
           metric("fraud rate", "CAST(SUM(frauds) AS DOUBLE) / CAST(SUM(labelled) AS DOUBLE)"), fmt=".3%")
category_bar(FRAUD, "fraud_alert_reasons", "Alerts by reason", "fraud_alert_reasons", "reason", ALERTS)
table(FRAUD, "fraud_label_stats_table", "Fraud labels by channel and location", "fraud_label_stats",
      ["channel", "location_kind", "out_of_home_state", "tx_count", "labelled", "frauds", "fraud_rate"],
      [("fraud_rate", False)], 50)
table(FRAUD, "fraud_risky_mccs", "Riskiest merchant categories", "mcc_risk",
      ["mcc", "mcc_description", "tx_count", "labelled", "frauds", "fraud_rate"], [("frauds", False), ("fraud_rate", False)], 15)
table(FRAUD, "fraud_risky_merchants", "Riskiest merchants", "merchant_risk",
      ["merchant_id", "tx_count", "labelled", "frauds", "fraud_rate", "error_rate"], [("frauds", False), ("fraud_rate", False)], 15)
table(FRAUD, "fraud_recent_alerts", "Latest alerts", "fraud_alerts",
      ["ts", "card_id", "client_id", "amount", "score", "reasons"], [("ts", False)], 20, width=12)

DASHBOARDS = {
    OPS: dict(title="finlake: real-time operations", slug="finlake-operations",
              desc="Volume, spend, refunds and errors per minute over the last 24 hours (gold.minute_metrics, reflection tx_minute), and the daily history."),
    FRAUD: dict(title="finlake: fraud", slug="finlake-fraud",
                desc="Streaming fraud alerts and their reasons, label statistics, riskiest MCCs and merchants."),
}

def dump(path, doc):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))

shutil.rmtree(OUT, ignore_errors=True)
dump(OUT / "metadata.yaml", {"version": "1.0.0", "type": "Dashboard", "timestamp": "2026-12-02T00:00:00+00:00"})
dump(OUT / "databases/finlake.yaml", {
    "database_name": "finlake", "sqlalchemy_uri": "datafusion+flightsql://finlake:XXXXXXXXXX@127.0.0.1:50051?insecure=true",
    "cache_timeout": None, "expose_in_sqllab": True, "allow_run_async": False, "allow_ctas": False,
    "allow_cvas": False, "allow_dml": False, "allow_file_upload": False,
    "extra": {"allows_virtual_table_explore": True, "metadata_params": {}, "engine_params": {}},
    "impersonate_user": False, "uuid": DB_UUID, "version": "1.0.0"})
for name, d in DATASETS.items():
    dump(OUT / f"datasets/finlake/{name}.yaml", {
        "table_name": name, "main_dttm_col": d["dttm"], "description": d["desc"], "default_endpoint": None,
        "offset": 0, "cache_timeout": None, "catalog": None, "schema": d["schema"], "sql": d["sql"], "params": None,
        "template_params": None, "filter_select_enabled": True, "fetch_values_predicate": None, "extra": None,
        "normalize_columns": False, "always_filter_main_dttm": False, "uuid": U("dataset:" + name),
        "metrics": [], "columns": d["columns"], "version": "1.0.0", "database_uuid": DB_UUID})
for key, c in CHARTS.items():
    qc = {"datasource": {"id": 0, "type": "table"}, "force": False,
          "queries": [dict({"extras": {"having": "", "where": ""}, "applied_time_extras": {}, "annotation_layers": [],
                            "series_limit": 0, "order_desc": True, "url_params": {}, "custom_params": {},
                            "custom_form_data": {}}, **c["query"])],
          "form_data": dict(c["params"], datasource="0__table"), "result_format": "json", "result_type": "full"}
    dump(OUT / f"charts/{key}.yaml", {
        "slice_name": c["title"], "description": None, "certified_by": None, "certification_details": None,
        "viz_type": c["viz"], "params": dict(c["params"], datasource="0__table"), "query_context": json.dumps(qc),
        "cache_timeout": None, "uuid": U("chart:" + key), "version": "1.0.0", "dataset_uuid": U("dataset:" + c["ds"])})
for dkey, d in DASHBOARDS.items():
    keys = [k for k, c in CHARTS.items() if c["dash"] == dkey]
    pos = {"DASHBOARD_VERSION_KEY": "v2",
           "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
           "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
           "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": d["title"]}, "type": "HEADER"}}
    rows, row, used = [], [], 0
    for k in keys:
        w = CHARTS[k]["width"]
        if used + w > 12:
            rows.append(row); row, used = [], 0
        row.append(k); used += w
    rows.append(row)
    for i, r in enumerate(rows):
        rid = f"ROW-{dkey}-{i}"
        pos["GRID_ID"]["children"].append(rid)
        pos[rid] = {"children": [f"CHART-{k}" for k in r], "id": rid, "meta": {"background": "BACKGROUND_TRANSPARENT"},
                    "parents": ["ROOT_ID", "GRID_ID"], "type": "ROW"}
        for k in r:
            pos[f"CHART-{k}"] = {"children": [], "id": f"CHART-{k}", "parents": ["ROOT_ID", "GRID_ID", rid], "type": "CHART",
                                 "meta": {"chartId": 0, "height": CHARTS[k]["height"], "sliceName": CHARTS[k]["title"],
                                          "uuid": U("chart:" + k), "width": CHARTS[k]["width"]}}
    dump(OUT / f"dashboards/{d['slug']}.yaml", {
        "dashboard_title": d["title"], "description": d["desc"], "css": "", "slug": d["slug"],
        "certified_by": "", "certification_details": "", "published": True, "uuid": U("dashboard:" + dkey),
        "position": pos,
        "metadata": {"color_scheme": "supersetColors", "refresh_frequency": 60, "timed_refresh_immune_slices": [],
                     "expanded_slices": {}, "label_colors": {}, "shared_label_colors": [], "color_scheme_domain": [],
                     "cross_filters_enabled": False, "native_filter_configuration": [], "chart_configuration": {},
                     "global_chart_configuration": {"scope": {"rootPath": ["ROOT_ID"], "excluded": []}, "chartsInScope": []}},
        "version": "1.0.0"})
print(len(DATASETS), "datasets", len(CHARTS), "charts", len(DASHBOARDS), "dashboards")
