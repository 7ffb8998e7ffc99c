-- The least-privilege change-data-capture account: it reads the captured tables and the
-- binary log, and can change nothing.
--
-- Placeholders are filled in by whoever applies the file (`finlake db start` from
-- FINLAKE_CDC_USER / FINLAKE_CDC_PASSWORD, the Compose init script from its environment):
--   __CDC_USER__      account name
--   __CDC_PASSWORD__  its password (never committed anywhere)
--   __DATABASE__      the source database
--
-- SELECT on the source database only: snapshots.
-- RELOAD: FLUSH TABLES WITH READ LOCK, which Debezium's MySQL snapshot uses.
-- REPLICATION SLAVE: read the binary log as a replica.
-- REPLICATION CLIENT: SHOW MASTER STATUS / SHOW BINARY LOGS (an alias of BINLOG MONITOR on
-- MariaDB >= 10.5).
-- SHOW DATABASES: Debezium lists databases at start.
-- Valid on MySQL 8.0 and MariaDB 10.11.

CREATE USER IF NOT EXISTS '__CDC_USER__'@'%' IDENTIFIED BY '__CDC_PASSWORD__';
ALTER USER '__CDC_USER__'@'%' IDENTIFIED BY '__CDC_PASSWORD__';
GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '__CDC_USER__'@'%';
GRANT SELECT ON `__DATABASE__`.* TO '__CDC_USER__'@'%';
