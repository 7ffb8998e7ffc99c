# The Spark job of infra/spark/ for infra/docker-compose.yml (build context: the repository
# root). Installed by the same script and pins the native tests use (infra/spark/install.sh:
# pyspark, delta-spark, the jars of infra/spark/pom.xml), under /opt/finlake/spark.
FROM eclipse-temurin:17.0.17_10-jdk-jammy
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv maven \
    && rm -rf /var/lib/apt/lists/*
COPY infra/spark/install.sh infra/spark/pom.xml /finlake/spark/
ENV FINLAKE_CACHE=/opt/finlake FINLAKE_SPARK_HOME=/opt/finlake/spark \
    FINLAKE_SPARK_JARS=/opt/finlake/spark/jars
RUN bash /finlake/spark/install.sh && rm -rf /opt/finlake/m2
