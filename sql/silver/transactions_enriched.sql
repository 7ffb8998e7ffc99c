-- view: silver.transactions_enriched
-- transactions_base joined with the card's and the client's attributes as of the
-- transaction time (SCD2 histories), the client's home state, the MCC description and the
-- fraud label once known (NULL: not labelled yet, which means unknown, not legitimate).
SELECT
  b.id, b.ts, b.minute, b.day, b.client_id, b.card_id, b.amount, b.is_refund, b.channel,
  b.merchant_id, b.merchant_city, b.location_kind, b.merchant_location, b.zip, b.mcc,
  m.description AS mcc_description,
  b.errors, b.err_insufficient_balance, b.err_bad_pin, b.err_technical_glitch,
  b.err_bad_card_number, b.err_bad_expiration, b.err_bad_cvv, b.err_bad_zipcode, b.has_error,
  u.home_state,
  CASE WHEN b.location_kind = 'us_state' THEN b.merchant_location <> u.home_state ELSE true END
    AS out_of_home_state,
  b.location_kind = 'foreign' AS is_foreign,
  c.card_brand, c.card_type, c.card_last4, c.has_chip AS card_has_chip, c.credit_limit,
  c.card_on_dark_web, c.year_pin_last_changed,
  u.current_age AS client_age, u.gender AS client_gender, u.yearly_income AS client_yearly_income,
  u.total_debt AS client_total_debt, u.credit_score AS client_credit_score,
  l.is_fraud
FROM finlake.silver.transactions_base b
LEFT JOIN finlake.silver.cards_history c
  ON c.id = b.card_id
  AND (c.valid_from IS NULL OR c.valid_from <= b.ts)
  AND (c.valid_to IS NULL OR b.ts < c.valid_to)
LEFT JOIN finlake.silver.users_history u
  ON u.id = b.client_id
  AND (u.valid_from IS NULL OR u.valid_from <= b.ts)
  AND (u.valid_to IS NULL OR b.ts < u.valid_to)
LEFT JOIN finlake.bronze.mcc_codes m ON m.mcc = b.mcc
LEFT JOIN finlake.bronze.fraud_labels l ON l.transaction_id = b.id
