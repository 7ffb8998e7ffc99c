-- view: gold.fraud_label_stats
-- Fraud labels by channel, merchant location kind and home-state flag: how many
-- transactions, how many labelled, how many fraud, and the fraud rate among labelled ones.
SELECT
  channel, location_kind, out_of_home_state,
  count(*) AS tx_count,
  count(is_fraud) AS labelled,
  sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS frauds,
  CAST(sum(CASE WHEN is_fraud THEN 1 ELSE 0 END) AS DOUBLE) / CAST(nullif(count(is_fraud), 0) AS DOUBLE)
    AS fraud_rate,
  sum(CASE WHEN is_fraud THEN amount ELSE 0 END) AS fraud_amount
FROM finlake.silver.transactions_enriched
GROUP BY channel, location_kind, out_of_home_state
