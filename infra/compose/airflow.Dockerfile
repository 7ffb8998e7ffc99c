# Airflow 3.3.2 for infra/docker-compose.yml: the DAGs (infra/airflow/dags, mounted at run time)
# call finlake's CLI, copied from the finlake image, and read Flight SQL with ADBC; the
# packages are the pins of infra/airflow/install.sh.
FROM finlake:local AS finlake

FROM apache/airflow:3.3.2
COPY --from=finlake /usr/local/bin/finlake /usr/local/bin/finlake
USER root
RUN apt-get update && apt-get install -y --no-install-recommends default-mysql-client \
    && rm -rf /var/lib/apt/lists/*
USER airflow
RUN pip install --no-cache-dir adbc-driver-manager==1.13.0 adbc-driver-flightsql==1.13.0 \
    pyarrow==26.0.1 deltalake==1.6.6
