-- view: gold.minute_metrics
-- Per-minute metrics by channel, MCC and merchant location (US state, country or ONLINE).
-- Served by the tx_minute reflection (declared on silver.transactions_base).
SELECT
  minute, channel, mcc, location_kind, merchant_location,
  tx_count, amount, refunds, online,
  CAST(online AS DOUBLE) / CAST(tx_count AS DOUBLE) AS online_share,
  errors,
  CAST(errors AS DOUBLE) / CAST(tx_count AS DOUBLE) AS error_rate
FROM (
  SELECT minute, channel, mcc, location_kind, merchant_location,
    count(*) AS tx_count,
    sum(amount) AS amount,
    sum(is_refund_n) AS refunds,
    sum(is_online_n) AS online,
    sum(has_error_n) AS errors
  FROM finlake.silver.transactions_base
  GROUP BY minute, channel, mcc, location_kind, merchant_location
) a
