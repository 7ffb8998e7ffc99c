"""finlake's live dashboard: `streamlit run infra/streamlit/app.py` (or `make dashboard`).

Reads only over Arrow Flight SQL (ADBC) from `finlake serve`. Settings (flags after `--` win):
  --uri / FINLAKE_FLIGHT_URI             grpc://127.0.0.1:50051 (or --host/--port,
                                         FINLAKE_FLIGHT_HOST / FINLAKE_FLIGHT_PORT)
  --user / FINLAKE_FLIGHT_USER           finlake
  --password / FINLAKE_FLIGHT_PASSWORD   the password `finlake serve` was started with
  --http / FINLAKE_HTTP_URL              serve's /health and /metrics (default: Flight port + 1)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="finlake · live finance analytics", page_icon="📈", layout="wide")

HERE = Path(__file__).resolve().parent / "views"
pages = [
    st.Page(str(HERE / "overview.py"), title="Overview", icon=":material/monitoring:", default=True),
    st.Page(str(HERE / "fraud.py"), title="Fraud", icon=":material/gpp_maybe:"),
    st.Page(str(HERE / "customers.py"), title="Customers", icon=":material/person:"),
    st.Page(str(HERE / "geography.py"), title="Geography", icon=":material/public:"),
    st.Page(str(HERE / "pipeline.py"), title="Pipeline", icon=":material/lan:"),
]
nav = st.navigation(pages)
with st.sidebar:
    st.markdown("### finlake")
    st.caption("Live finance analytics over the lakehouse: every figure is a Flight SQL query to `finlake serve`.")
nav.run()
