"""The dashboard's plumbing: the Flight SQL connection (ADBC), parameterised queries, errors a
person can act on, number formats, the freshness badge and the shared look.

Every query goes through `query(sql, params)`: the SQL is a constant of the page that sends it,
every filter a bound parameter (`$1`, `$2`, ...) of a prepared statement. Nothing the viewer
types is ever pasted into SQL text.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Sequence

import pandas as pd
import pyarrow as pa
import streamlit as st

# One palette for every page (the product's colours).
BRAND = "#0F766E"  # teal: volume, primary series
ACCENT = "#2563EB"  # blue: secondary series
ALERT = "#DC2626"  # red: fraud
WARN = "#D97706"  # amber: errors, refunds
MUTED = "#64748B"
CHANNEL_COLORS = {"chip": "#0F766E", "swipe": "#2563EB", "online": "#7C3AED", "unknown": "#94A3B8"}


@dataclass(frozen=True)
class Settings:
    uri: str
    user: str
    password: str
    http: str


def settings() -> Settings:
    """Flags after `streamlit run app.py --` win over the environment."""
    p = argparse.ArgumentParser(prog="finlake dashboard", add_help=False, allow_abbrev=False)
    p.add_argument("--uri", default=None)
    p.add_argument("--host", default=None)
    p.add_argument("--port", default=None)
    p.add_argument("--user", default=None)
    p.add_argument("--password", default=None)
    p.add_argument("--http", default=None)
    a, _ = p.parse_known_args(sys.argv[1:])
    host = a.host or os.environ.get("FINLAKE_FLIGHT_HOST", "127.0.0.1")
    port = a.port or os.environ.get("FINLAKE_FLIGHT_PORT", "50051")
    uri = a.uri or os.environ.get("FINLAKE_FLIGHT_URI") or f"grpc://{host}:{port}"
    http = a.http or os.environ.get("FINLAKE_HTTP_URL")
    if not http:
        m = re.match(r"^grpc(?:\+tcp)?://([^:/]+):(\d+)", uri)
        http = f"http://{m.group(1)}:{int(m.group(2)) + 1}" if m else "http://127.0.0.1:50052"
    return Settings(
        uri=uri,
        user=a.user or os.environ.get("FINLAKE_FLIGHT_USER", "finlake"),
        password=a.password if a.password is not None else os.environ.get("FINLAKE_FLIGHT_PASSWORD", ""),
        http=http.rstrip("/"),
    )


class DashError(Exception):
    """A failure told to the viewer: what happened and what to do about it."""

    def __init__(self, title: str, hint: str, detail: str = ""):
        super().__init__(title)
        self.title, self.hint, self.detail = title, hint, detail


class NoTable(DashError):
    pass


def classify(e: BaseException, s: Settings) -> DashError:
    text = str(e)
    low = text.lower()
    first = text.strip().splitlines()[0][:300] if text.strip() else type(e).__name__
    if "unauthenticated" in low or "invalid credentials" in low or "password" in low and "wrong" in low:
        return DashError(
            "The Flight SQL server refused the credentials",
            f"Check FINLAKE_FLIGHT_USER (now `{s.user}`) and FINLAKE_FLIGHT_PASSWORD: they must be "
            "the ones `finlake serve` was started with.",
            first,
        )
    if any(k in low for k in ("unavailable", "connection refused", "failed to connect", "deadline", "connect error", "dns")):
        return DashError(
            f"Cannot reach the Flight SQL server at {s.uri}",
            "Start it with `finlake serve` (or `make demo`), or point FINLAKE_FLIGHT_URI at it.",
            first,
        )
    if ("not found" in low and ("table" in low or "relation" in low)) or "no table named" in low or "does not exist" in low or "no data yet" in low \
            or ("not found" in low and "finlake." in low):
        return NoTable("A table this view reads is not in the lake yet", "It appears once the pipeline has written it.", first)
    return DashError("The query failed", "The server's log (serve.log under the state directory) has the details.", first)


_lock = threading.Lock()
_conn: dict[str, Any] = {}


def _connect(s: Settings):
    import adbc_driver_flightsql.dbapi as flightsql

    kwargs = {"username": s.user, "password": s.password} if s.password else {}
    return flightsql.connect(s.uri, db_kwargs=kwargs, autocommit=True)


def _drop_conn() -> None:
    c = _conn.pop("c", None)
    if c is not None:
        try:
            c.close()
        except Exception:  # noqa: BLE001 - the connection is already broken
            pass


def query_arrow(sql: str, params: Sequence[Any] | None = None, name: str | None = None) -> pa.Table:
    """Runs one statement over Flight SQL; `params` are bound to `$1..$n` (prepared statement)."""
    s = settings()
    t0 = time.perf_counter()
    with _lock:
        try:
            if _conn.get("key") != s:
                _drop_conn()
                _conn["key"] = s
            if "c" not in _conn:
                _conn["c"] = _connect(s)
            cur = _conn["c"].cursor()
            try:
                if params:
                    cur.execute(sql, parameters=list(params))
                else:
                    cur.execute(sql)
                table = cur.fetch_arrow_table()
            finally:
                cur.close()
        except Exception as e:  # noqa: BLE001 - turned into a message for the viewer
            err = classify(e, s)
            if not isinstance(err, NoTable):
                _drop_conn()
            raise err from e
    ms = (time.perf_counter() - t0) * 1e3
    _record(name or sql.split()[1][:40], sql, params, ms, table)
    return table


def query(sql: str, params: Sequence[Any] | None = None, name: str | None = None) -> pd.DataFrame:
    return query_arrow(sql, params, name).to_pandas()


def _record(name: str, sql: str, params: Sequence[Any] | None, ms: float, table: pa.Table) -> None:
    """The queries of this run, so tests and the benchmark can replay exactly what a page sent."""
    from streamlit import runtime

    if not runtime.exists():
        return
    try:
        log = st.session_state.setdefault("_queries", [])
    except Exception:  # noqa: BLE001 - outside a Streamlit session
        return
    log.append({"name": name, "sql": sql, "params": list(params or []), "ms": ms, "rows": table.num_rows, "result": table})
    del log[:-200]


def tables() -> set[str]:
    """`schema.table` names the server has (information_schema), cached for a few seconds."""
    now = time.monotonic()
    key = settings()
    cached = _conn.get("tables")
    if cached and cached[2] == key and now - cached[0] < 15:
        return cached[1]
    df = query("SELECT table_schema, table_name FROM information_schema.tables WHERE table_catalog = 'finlake'", name="catalog")
    names = {f"{a}.{b}" for a, b in zip(df["table_schema"], df["table_name"])}
    _conn["tables"] = (now, names, key)
    return names


def http_get(path: str, timeout: float = 2.0) -> tuple[int, str]:
    s = settings()
    try:
        with urllib.request.urlopen(s.http + path, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (OSError, urllib.error.URLError) as e:
        raise DashError(
            f"Cannot reach the server's HTTP port at {s.http}",
            "It is `finlake serve --http-addr`; set FINLAKE_HTTP_URL when it is not the Flight port + 1.",
            str(e),
        ) from e


def health() -> dict:
    code, body = http_get("/health")
    try:
        out = json.loads(body)
    except ValueError:
        out = {"status": "unknown", "raw": body[:200]}
    out["http_status"] = code
    return out


def metrics() -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text -> {name: [(labels, value)]}."""
    _, body = http_get("/metrics")
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$", line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        try:
            out.setdefault(m.group(1), []).append((labels, float(m.group(3))))
        except ValueError:
            pass
    return out


# ---------------------------------------------------------------- formats (exact decimals)


def money(v: Any, cents: bool = True) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NA:
        return "—"
    d = v if isinstance(v, Decimal) else Decimal(str(v))
    sign = "-" if d < 0 else ""
    return f"{sign}${abs(d):,.2f}" if cents else f"{sign}${abs(d):,.0f}"


def count(v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return "—"
    return f"{int(v):,}"


def pct(v: Any, digits: int = 1) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return "—"
    return f"{float(v) * 100:.{digits}f}%"


def masked(last4: Any) -> str:
    """A card shown by its last four digits only (the lake's masked column)."""
    return f"•••• {last4}" if last4 else "••••"


def dec(v: Any) -> Decimal:
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return Decimal(0)
    return v if isinstance(v, Decimal) else Decimal(str(v))


# ---------------------------------------------------------------- look


CSS = """
<style>
.block-container {padding-top: 2.2rem; max-width: 1400px;}
div[data-testid="stMetric"] {background: #F8FAFC; border: 1px solid #E2E8F0; border-radius: 10px; padding: 10px 14px;}
div[data-testid="stMetricLabel"] p {color: #475569; font-size: 0.85rem;}
.fl-badge {display: inline-block; padding: 4px 12px; border-radius: 999px; font-size: 0.9rem; font-weight: 600;}
.fl-ok {background: #DCFCE7; color: #166534;} .fl-warn {background: #FEF3C7; color: #92400E;}
.fl-bad {background: #FEE2E2; color: #991B1B;} .fl-idle {background: #E2E8F0; color: #334155;}
.fl-sub {color: #64748B; font-size: 0.85rem; margin-top: -0.6rem; margin-bottom: 0.6rem;}
div[data-testid="stMetricValue"] {font-size: 1.55rem;}
.fl-window {font-weight: 600; color: #334155; padding-top: 1.6rem;}
/* refresh in place: the previous figures stay fully visible until the new ones arrive */
[data-stale="true"] {opacity: 1 !important; transition: none !important;}
</style>
"""


def header(title: str, subtitle: str) -> None:
    st.markdown(CSS, unsafe_allow_html=True)
    st.title(title)
    st.markdown(f'<div class="fl-sub">{subtitle}</div>', unsafe_allow_html=True)


def show_error(e: DashError, retry_s: float | None) -> None:
    msg = f"**{e.title}.** {e.hint}"
    if retry_s:
        msg += f" Retrying every {retry_s:g} s."
    st.error(msg, icon="⚠️")
    if e.detail:
        st.caption(f"Server said: {e.detail}")
    st.button("Retry now", key=f"retry-{e.title}-{time.monotonic_ns()}")


def live(body: Callable[[], None], every: float | None) -> None:
    """Runs a page body in a fragment refreshed every `every` seconds; errors become messages."""

    def run() -> None:
        try:
            body()
        except DashError as e:
            show_error(e, every or 5)
        n = st.session_state.get("_runs", 0) + 1
        st.session_state["_runs"] = n
        st.markdown(f'<div class="fl-done" style="font-size:1px;color:transparent">run {n}</div>', unsafe_allow_html=True)

    st.fragment(run, run_every=every or 5)()


def freshness_badge(commit_ts: Any, what: str = "newest transaction on screen") -> float | None:
    """`commit_ts`: the source commit time (UTC) of the newest row on screen."""
    if commit_ts is None or commit_ts is pd.NaT or (isinstance(commit_ts, float) and pd.isna(commit_ts)):
        st.markdown('<span class="fl-badge fl-idle">No recent transaction at the source</span>', unsafe_allow_html=True)
        return None
    ts = pd.Timestamp(commit_ts)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    age = max(0.0, (pd.Timestamp.now(tz="UTC") - ts).total_seconds())
    cls = "fl-ok" if age < 5 else "fl-warn" if age < 60 else "fl-bad"
    text = f"{age:.1f} s behind the bank's database" if age < 120 else f"{age / 60:,.0f} min behind the bank's database"
    st.markdown(
        f'<span class="fl-badge {cls}" title="{what}, committed at the source '
        f'{ts.strftime("%H:%M:%S.%f")[:-3]} UTC">● {text}</span>',
        unsafe_allow_html=True,
    )
    return age


def now_local() -> dt.datetime:
    """The source stamps transactions with its wall clock (no zone); windows use the same clock."""
    return dt.datetime.now().replace(microsecond=0)


def minute_floor(t: dt.datetime) -> dt.datetime:
    return t.replace(second=0, microsecond=0)
