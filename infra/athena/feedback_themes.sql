-- Athena / Glue table over the nightly feedback_themes.parquet: one row per item and theme, one partition per
-- UTC day found by partition projection, like infra/athena/feedback.sql (same placeholders: ${database} and
-- ${bucket} are substituted by infra; `${dt}` is Athena's own and reaches it as written).
--
-- Layout: export_day writes exports/feedback_themes/dt=YYYY-MM-DD/feedback_themes.parquet, a prefix of its
-- own (Athena reads every object under a table's location).
--
-- Columns mirror chalicelib.export.themes_writer.themes_schema(), same names, same order
-- (tests/test_theme_export.py checks it). `day` is the UTC day the item was stored (the partition's day, as
-- a date for date_trunc); theme_name and parent_id come from the taxonomy at export time; sentiment is about
-- that theme; taxonomy_version is the version the item was tagged with.
CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`feedback_themes` (
  `feedback_id` string,
  `day` date,
  `occurred_at` timestamp,
  `channel` string,
  `source_id` string,
  `theme_id` string,
  `theme_name` string,
  `parent_id` string,
  `sentiment` string,
  `taxonomy_version` int
)
COMMENT 'Themes of customer feedback, one row per item and theme, exported nightly (UTC days)'
PARTITIONED BY (`dt` string)
STORED AS PARQUET
LOCATION 's3://${bucket}/exports/feedback_themes/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2024-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://${bucket}/exports/feedback_themes/dt=${dt}/',
  'classification' = 'parquet'
);
