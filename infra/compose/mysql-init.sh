#!/bin/sh
# MySQL 8.0 init script for infra/docker-compose.yml (runs once, on an empty data volume):
# the finlake schema, the Debezium signal table and the least-privilege CDC account, with the
# placeholders of cdc_user.sql filled in from the container's environment.
set -eu
mysql_root() { mysql --protocol=socket -uroot -p"$MYSQL_ROOT_PASSWORD" "$@"; }
mysql_root "$MYSQL_DATABASE" < /finlake/mysql/schema.sql
mysql_root "$MYSQL_DATABASE" < /finlake/mysql/debezium_signal.sql
sed -e "s/__CDC_USER__/$FINLAKE_CDC_USER/g" \
    -e "s/__CDC_PASSWORD__/$FINLAKE_CDC_PASSWORD/g" \
    -e "s/__DATABASE__/$MYSQL_DATABASE/g" /finlake/mysql/cdc_user.sql | mysql_root
# Debezium's incremental snapshots write their window markers into the signal table.
mysql_root -e "GRANT INSERT, DELETE ON \`$MYSQL_DATABASE\`.debezium_signal TO '$FINLAKE_CDC_USER'@'%'"
