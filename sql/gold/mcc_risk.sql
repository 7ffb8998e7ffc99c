-- view: gold.mcc_risk
-- Per merchant category: volume, fraud count and rate among labelled transactions.
SELECT
  mcc, mcc_description,
  count(*) AS tx_count,
  sum(amount) AS amount,
  count(is_fraud) AS labelled,
  sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS frauds,
  CAST(sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS DOUBLE) / CAST(nullif(count(is_fraud), 0) AS DOUBLE)
    AS fraud_rate
FROM finlake.silver.transactions_enriched
GROUP BY mcc, mcc_description
