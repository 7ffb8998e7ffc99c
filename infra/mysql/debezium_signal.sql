-- Debezium's signal table (infra/connect/finance-mysql-connector.json, signal.data.collection).
--
-- A row inserted here asks the running connector to do something, e.g. re-snapshot one table
-- while streaming goes on (an incremental snapshot):
--
--   INSERT INTO debezium_signal (id, type, data) VALUES
--     (UUID(), 'execute-snapshot', '{"data-collections": ["finance.cards"], "type": "incremental"}');
--
-- The connector also writes its snapshot window markers here, so its account needs INSERT and
-- DELETE on this one table (and nothing else writable). finlake never captures this table.
-- Applied by infra/connect/register.sh; idempotent; valid on MySQL 8.0 and MariaDB 10.11.
-- Placeholders: __CDC_USER__ (the connector's account).

CREATE TABLE IF NOT EXISTS debezium_signal (
  id    VARCHAR(42)   NOT NULL,
  type  VARCHAR(32)   NOT NULL,
  data  VARCHAR(2048) NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
