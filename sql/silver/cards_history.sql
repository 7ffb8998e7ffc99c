-- view: silver.cards_history
-- SCD type 2 of cards from the change stream (see users_history for the rules). The card
-- number and CVV are keyed hashes in the lake; only the last four digits are exposed here.
SELECT
  id, client_id, card_brand, card_type,
  right(card_number, 4) AS card_last4,
  expires, has_chip, num_cards_issued, credit_limit, acct_open_date, year_pin_last_changed,
  card_on_dark_web,
  CASE WHEN seq = 1 THEN NULL ELSE CAST(_commit_ts AS TIMESTAMP) END AS valid_from,
  CAST(next_ts AS TIMESTAMP) AS valid_to,
  next_ts IS NULL AS is_current,
  _op AS change_op
FROM (
  SELECT *,
    row_number() OVER (PARTITION BY _key ORDER BY _pos_file, _pos, _pos_row) AS seq,
    lead(_commit_ts) OVER (PARTITION BY _key ORDER BY _pos_file, _pos, _pos_row) AS next_ts
  FROM finlake.bronze.cards__changes
) h
WHERE _op <> 'd'
