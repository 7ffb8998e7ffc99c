-- finlake source schema: the bank's OLTP tables, shaped like the public
-- "Transactions Fraud Datasets" files (see ../../README.md, "Source data").
--
-- The one DDL used everywhere: `finlake db start`, `finlake datagen`, the tests and the
-- Docker Compose stack. Loads on MySQL 8.0 and MariaDB 10.11 into the current database;
-- every statement is idempotent (IF NOT EXISTS).
--
-- Types are exact: money is DECIMAL, times are wall-clock DATETIME, months are DATE (day 1),
-- years are YEAR, categories are ENUM. Zip codes and CVVs are zero-padded text.
-- card_number and cvv are secrets: they exist in clear here and nowhere downstream.
--
-- Foreign keys have no ON DELETE CASCADE on purpose: cascaded deletes are not written to the
-- binary log as row events, so change-data capture would never see them. The workload
-- deletes children first, in the same transaction.

CREATE TABLE IF NOT EXISTS users (
  id                 INT UNSIGNED      NOT NULL,
  current_age        TINYINT UNSIGNED  NOT NULL,
  retirement_age     TINYINT UNSIGNED  NOT NULL,
  birth_year         YEAR              NOT NULL,
  birth_month        TINYINT UNSIGNED  NOT NULL,
  gender             ENUM('Female','Male') NOT NULL,
  address            VARCHAR(128)      NOT NULL,
  latitude           DECIMAL(8,2)      NOT NULL,
  longitude          DECIMAL(8,2)      NOT NULL,
  per_capita_income  DECIMAL(14,2)     NOT NULL,
  yearly_income      DECIMAL(14,2)     NOT NULL,
  total_debt         DECIMAL(14,2)     NOT NULL,
  credit_score       SMALLINT UNSIGNED NOT NULL,
  num_credit_cards   TINYINT UNSIGNED  NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS cards (
  id                    INT UNSIGNED     NOT NULL,
  client_id             INT UNSIGNED     NOT NULL,
  card_brand            ENUM('Amex','Discover','Mastercard','Visa') NOT NULL,
  card_type             ENUM('Credit','Debit','Debit (Prepaid)') NOT NULL,
  card_number           VARCHAR(19)      NOT NULL,
  expires               DATE             NOT NULL COMMENT 'first day of the MM/YYYY month',
  cvv                   VARCHAR(4)       NOT NULL COMMENT 'zero-padded, 3 digits',
  has_chip              BOOLEAN          NOT NULL,
  num_cards_issued      TINYINT UNSIGNED NOT NULL,
  credit_limit          DECIMAL(14,2)    NOT NULL,
  acct_open_date        DATE             NOT NULL COMMENT 'first day of the MM/YYYY month',
  year_pin_last_changed YEAR             NOT NULL,
  card_on_dark_web      BOOLEAN          NOT NULL DEFAULT FALSE,
  PRIMARY KEY (id),
  KEY idx_cards_client (client_id),
  CONSTRAINT fk_cards_user FOREIGN KEY (client_id) REFERENCES users (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS mcc_codes (
  mcc          SMALLINT UNSIGNED NOT NULL,
  description  VARCHAR(128)      NOT NULL,
  PRIMARY KEY (mcc)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS transactions (
  id              BIGINT UNSIGNED   NOT NULL,
  date            DATETIME          NOT NULL COMMENT 'wall clock, no time zone',
  client_id       INT UNSIGNED      NOT NULL,
  card_id         INT UNSIGNED      NOT NULL,
  amount          DECIMAL(12,2)     NOT NULL COMMENT 'negative for refunds',
  use_chip        ENUM('Swipe Transaction','Chip Transaction','Online Transaction') NOT NULL,
  merchant_id     INT UNSIGNED      NOT NULL,
  merchant_city   VARCHAR(64)       NOT NULL,
  merchant_state  VARCHAR(32)       NULL COMMENT 'US state code, or a country name; NULL online',
  zip             CHAR(5)           NULL COMMENT 'zero-padded; NULL online and abroad',
  mcc             SMALLINT UNSIGNED NOT NULL,
  errors          VARCHAR(160)      NULL COMMENT 'comma-joined error kinds',
  PRIMARY KEY (id),
  -- Per-card and per-client history in time order: the workload's corrections and the
  -- fraud features read recent activity of one card or client.
  KEY idx_tx_card_date (card_id, date),
  KEY idx_tx_client_date (client_id, date),
  KEY idx_tx_mcc (mcc),
  CONSTRAINT fk_tx_card FOREIGN KEY (card_id) REFERENCES cards (id),
  CONSTRAINT fk_tx_user FOREIGN KEY (client_id) REFERENCES users (id),
  CONSTRAINT fk_tx_mcc  FOREIGN KEY (mcc) REFERENCES mcc_codes (mcc)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Labels arrive after the fact and cover part of the transactions; a missing label means
-- "unknown", not "legitimate".
CREATE TABLE IF NOT EXISTS fraud_labels (
  transaction_id  BIGINT UNSIGNED NOT NULL,
  is_fraud        BOOLEAN         NOT NULL,
  PRIMARY KEY (transaction_id),
  CONSTRAINT fk_labels_tx FOREIGN KEY (transaction_id) REFERENCES transactions (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
