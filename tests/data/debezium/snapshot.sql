-- Part 1 (taken by the initial snapshot) of a recorded CDC scenario for the Debezium decoder's golden messages and for the conformance
-- test (binlog source vs Kafka source). Runs in the current database on the finlake schema.
-- Edge cases: negative and large decimals, NULLs, unicode, wall-clock DATETIMEs around
-- midnight and DST dates, DATE months, YEAR, ENUM, BOOLEAN, BIGINT UNSIGNED above 2^63,
-- updates of one row twice in a transaction, a primary-key change, deletes (tombstones).
INSERT INTO mcc_codes (mcc, description) VALUES
  (5411, 'Grocery Stores, Supermarkets'), (5812, 'Eating Places — Restaurants'), (4829, 'Money Transfer'), (1711, 'Heating, Plumbing, A/C');
INSERT INTO users (id, current_age, retirement_age, birth_year, birth_month, gender, address,
  latitude, longitude, per_capita_income, yearly_income, total_debt, credit_score, num_credit_cards) VALUES
  (1, 53, 66, 1966, 11, 'Female', '462 Rose Lane', 34.15, -117.76, 29278.00, 59696.00, 127613.00, 787, 5),
  (2, 40, 67, 1984, 1, 'Male', '2 Élysée Straße ☃', -0.01, 0.00, 0.00, 999999999999.99, -0.01, 300, 0);
INSERT INTO cards (id, client_id, card_brand, card_type, card_number, expires, cvv, has_chip,
  num_cards_issued, credit_limit, acct_open_date, year_pin_last_changed, card_on_dark_web) VALUES
  (10, 1, 'Visa', 'Debit', '4344676511950444', '2022-12-01', '623', TRUE, 2, 24295.00, '2002-09-01', 2008, FALSE),
  (11, 2, 'Amex', 'Debit (Prepaid)', '379110000000002', '2030-02-01', '007', FALSE, 1, 0.00, '1991-01-01', 1991, TRUE);
INSERT INTO transactions (id, date, client_id, card_id, amount, use_chip, merchant_id, merchant_city,
  merchant_state, zip, mcc, errors) VALUES
  (7475327, '2010-01-01 00:01:00', 1, 10, -77.00, 'Swipe Transaction', 59935, 'Beulah', 'ND', '58523', 5411, NULL),
  (7475328, '2019-10-31 23:59:59', 2, 11, 14.57, 'Online Transaction', 67570, 'ONLINE', NULL, NULL, 4829, 'Bad CVV,Insufficient Balance'),
  (18446744073709551000, '2016-03-13 02:30:00', 1, 10, 9999999999.99, 'Chip Transaction', 1, 'São Paulo', 'Brazil', NULL, 5812, NULL);
INSERT INTO fraud_labels (transaction_id, is_fraud) VALUES (7475327, FALSE), (7475328, TRUE);
