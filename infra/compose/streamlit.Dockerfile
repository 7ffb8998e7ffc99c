# The Streamlit dashboard (infra/streamlit/app.py, mounted at run time) for
# infra/docker-compose.yml, with the pins of infra/streamlit/requirements.txt.
FROM python:3.12.12-slim-bookworm
COPY infra/streamlit/requirements.txt /finlake/streamlit-requirements.txt
RUN pip install --no-cache-dir -r /finlake/streamlit-requirements.txt
