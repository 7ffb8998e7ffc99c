-- view: gold.daily_client_spend
-- Spend per client and day: purchases, refunds and the net amount, exact decimals.
SELECT
  day, client_id,
  count(*) AS tx_count,
  sum(CASE WHEN amount >= 0 THEN amount ELSE 0 END) AS purchases,
  sum(CASE WHEN amount < 0 THEN -amount ELSE 0 END) AS refunds,
  sum(amount) AS net_amount,
  max(amount) AS max_amount
FROM finlake.silver.transactions_base
GROUP BY day, client_id
