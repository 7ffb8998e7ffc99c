-- Part 2 (streamed after the snapshot) of the recorded scenario in snapshot.sql.
START TRANSACTION;
UPDATE transactions SET amount = 80.00 WHERE id = 7475327;
UPDATE transactions SET amount = 81.25, errors = 'Technical Glitch' WHERE id = 7475327;
UPDATE cards SET credit_limit = 30000.50, card_on_dark_web = TRUE WHERE id = 10;
COMMIT;
UPDATE users SET credit_score = 801, total_debt = total_debt - 0.01 WHERE id = 1;
-- A primary-key change: the old key disappears, the new one appears.
UPDATE mcc_codes SET mcc = 1799 WHERE mcc = 1711;
UPDATE fraud_labels SET transaction_id = 18446744073709551000 WHERE transaction_id = 7475328;
START TRANSACTION;
DELETE FROM fraud_labels WHERE transaction_id = 7475327;
DELETE FROM transactions WHERE id = 7475327;
COMMIT;
INSERT INTO transactions (id, date, client_id, card_id, amount, use_chip, merchant_id, merchant_city,
  merchant_state, zip, mcc, errors) VALUES
  (7475327, '2012-02-29 12:00:00', 2, 11, 0.01, 'Swipe Transaction', 3, 'Zürich', 'Switzerland', NULL, 5411, NULL);
