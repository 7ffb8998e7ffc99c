-- view: silver.users_history
-- SCD type 2 from the change stream: one version per change of a user (after images),
-- valid_from = source commit time (wall clock, UTC) of the change, NULL for the first known
-- version (valid since before capture began); valid_to = commit time of the next change of
-- the same key (NULL while current). A delete closes the last version and is not a version.
SELECT
  id, current_age, retirement_age, birth_year, birth_month, gender, address, latitude,
  longitude, per_capita_income, yearly_income, total_debt, credit_score, num_credit_cards,
  finlake_home_state(CAST(latitude AS DOUBLE), CAST(longitude AS DOUBLE)) AS home_state,
  CASE WHEN seq = 1 THEN NULL ELSE CAST(_commit_ts AS TIMESTAMP) END AS valid_from,
  CAST(next_ts AS TIMESTAMP) AS valid_to,
  next_ts IS NULL AS is_current,
  _op AS change_op
FROM (
  SELECT *,
    row_number() OVER (PARTITION BY _key ORDER BY _pos_file, _pos, _pos_row) AS seq,
    lead(_commit_ts) OVER (PARTITION BY _key ORDER BY _pos_file, _pos, _pos_row) AS next_ts
  FROM finlake.bronze.users__changes
) h
WHERE _op <> 'd'
