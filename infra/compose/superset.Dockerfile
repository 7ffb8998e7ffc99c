# Superset 6.1.0 with finlake's Flight SQL dialect (flightsql-dbapi 0.2.2, the pin of
# infra/superset/install.sh) for infra/docker-compose.yml. The config, bootstrap and dashboards
# bundle are mounted from infra/superset/ at run time.
FROM apache/superset:6.1.0
USER root
RUN . /app/.venv/bin/activate && uv pip install --no-cache flightsql-dbapi==0.2.2
USER superset
