-- view: gold.merchant_risk
-- Per merchant: volume, labelled share, fraud count and rate among labelled transactions,
-- error rate.
SELECT
  merchant_id,
  count(*) AS tx_count,
  sum(amount) AS amount,
  count(is_fraud) AS labelled,
  sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS frauds,
  CAST(sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS DOUBLE) / CAST(nullif(count(is_fraud), 0) AS DOUBLE)
    AS fraud_rate,
  CAST(sum(CASE WHEN has_error THEN 1 ELSE 0 END) AS DOUBLE) / CAST(count(*) AS DOUBLE)
    AS error_rate
FROM finlake.silver.transactions_enriched
GROUP BY merchant_id
