-- view: silver.transactions_base
-- One row per bronze transaction with everything derived from the row alone: exact amount,
-- refund flag, channel, parsed error flags, merchant location normalised to a US state, a
-- foreign country or online, zip as text. Counters (*_n) are 0/1 integers so that
-- aggregations over them roll up exactly.
--
-- Reflections: one at minute grain for gold.minute_metrics and ad-hoc roll-ups, and small
-- ones at day and month grain for the dashboards (a query is answered from the smallest
-- reflection whose dims cover it).
-- reflection: tx_minute kind=aggregation source=transactions key=id dims=minute,channel,mcc,location_kind,merchant_location measures=amount,is_refund_n,is_online_n,has_error_n
-- reflection: tx_day kind=aggregation source=transactions key=id dims=day,channel,location_kind measures=amount,is_refund_n,is_online_n,has_error_n
-- reflection: tx_month_mcc kind=aggregation source=transactions key=id dims=month,channel,mcc measures=amount,is_refund_n,is_online_n,has_error_n
-- reflection: tx_month_location kind=aggregation source=transactions key=id dims=month,location_kind,merchant_location measures=amount,is_refund_n,is_online_n,has_error_n
SELECT
  t.id,
  t.date AS ts,
  date_trunc('minute', t.date) AS minute,
  CAST(t.date AS DATE) AS day,
  CAST(date_trunc('month', t.date) AS DATE) AS month,
  t.client_id,
  t.card_id,
  t.amount,
  t.amount < 0 AS is_refund,
  CASE t.use_chip
    WHEN 'Swipe Transaction' THEN 'swipe'
    WHEN 'Chip Transaction' THEN 'chip'
    WHEN 'Online Transaction' THEN 'online'
    ELSE 'unknown'
  END AS channel,
  t.merchant_id,
  t.merchant_city,
  CASE
    WHEN t.use_chip = 'Online Transaction' OR t.merchant_state IS NULL THEN 'online'
    WHEN t.merchant_state IN ('AK','AL','AR','AZ','CA','CO','CT','DC','DE','FL','GA','HI','IA',
      'ID','IL','IN','KS','KY','LA','MA','MD','ME','MI','MN','MO','MS','MT','NC','ND','NE','NH',
      'NJ','NM','NV','NY','OH','OK','OR','PA','RI','SC','SD','TN','TX','UT','VA','VT','WA','WI',
      'WV','WY') THEN 'us_state'
    ELSE 'foreign'
  END AS location_kind,
  CASE
    WHEN t.use_chip = 'Online Transaction' OR t.merchant_state IS NULL THEN 'ONLINE'
    ELSE t.merchant_state
  END AS merchant_location,
  t.zip,
  t.mcc,
  t.errors,
  coalesce(array_has(string_to_array(t.errors, ','), 'Insufficient Balance'), false) AS err_insufficient_balance,
  coalesce(array_has(string_to_array(t.errors, ','), 'Bad PIN'), false) AS err_bad_pin,
  coalesce(array_has(string_to_array(t.errors, ','), 'Technical Glitch'), false) AS err_technical_glitch,
  coalesce(array_has(string_to_array(t.errors, ','), 'Bad Card Number'), false) AS err_bad_card_number,
  coalesce(array_has(string_to_array(t.errors, ','), 'Bad Expiration'), false) AS err_bad_expiration,
  coalesce(array_has(string_to_array(t.errors, ','), 'Bad CVV'), false) AS err_bad_cvv,
  coalesce(array_has(string_to_array(t.errors, ','), 'Bad Zipcode'), false) AS err_bad_zipcode,
  t.errors IS NOT NULL AS has_error,
  CAST(CASE WHEN t.amount < 0 THEN 1 ELSE 0 END AS BIGINT) AS is_refund_n,
  CAST(CASE WHEN t.use_chip = 'Online Transaction' THEN 1 ELSE 0 END AS BIGINT) AS is_online_n,
  CAST(CASE WHEN t.errors IS NOT NULL THEN 1 ELSE 0 END AS BIGINT) AS has_error_n
FROM finlake.bronze.transactions t
