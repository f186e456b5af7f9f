-- Negative share per theme per week: of the items that talk about a theme in a week, the share whose
-- sentiment about that theme is NEGATIVE. Weeks start on Monday (UTC days an item was stored); the dt range
-- limits the partitions read, which is what Athena bills. Saved in the stack's workgroup as a named query.
SELECT
  date_trunc('week', day) AS week,
  theme_id,
  max_by(theme_name, day) AS theme_name,
  count(*) AS items,
  count_if(sentiment = 'NEGATIVE') AS negative,
  round(count_if(sentiment = 'NEGATIVE') * 1.0 / count(*), 3) AS negative_share
FROM feedback_themes
WHERE dt BETWEEN '2026-10-05' AND '2026-11-29'
GROUP BY date_trunc('week', day), theme_id
ORDER BY week, negative_share DESC, theme_id;
