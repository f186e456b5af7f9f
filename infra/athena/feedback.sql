-- Athena / Glue table over the nightly Parquet exports: one partition per UTC day, found by partition
-- projection (no crawler, no MSCK REPAIR, no ALTER TABLE ADD PARTITION).
--
-- Placeholders that infra substitutes before running the statement:
--   ${database}  the Glue database that holds the table
--   ${bucket}    the stage's export bucket (EXPORT_BUCKET, e.g. feedback-exports-prod)
-- `${dt}` in storage.location.template is NOT a placeholder: Athena fills it in per partition, so it must
-- reach Athena as written (Python string.Template.safe_substitute leaves it alone; CloudFormation Fn::Sub
-- needs it written as ${!dt}).
--
-- Layout: export_day writes exports/parquet/dt=YYYY-MM-DD/feedback.parquet. The Parquet file has a prefix
-- of its own because Athena reads every object under a table's (or partition's) location: beside
-- feedback.csv, feedback.jsonl.gz and manifest.json in exports/dt=YYYY-MM-DD/ it would try to read those
-- as Parquet and fail the query.
--
-- Columns mirror chalicelib.export.parquet_writer.parquet_schema(), same names, same order
-- (tests/test_parquet_export.py checks it). Timestamps are UTC (Parquet INT64 microseconds, adjusted to
-- UTC); Athena shows them to the millisecond. `themes` is each theme of the item with its name (from the
-- taxonomy at export time) and the sentiment about it; infra/athena/feedback_themes.sql has one row per item
-- and theme, for GROUP BY without UNNEST.
CREATE EXTERNAL TABLE IF NOT EXISTS `${database}`.`feedback` (
  `feedback_id` string,
  `source_id` string,
  `channel` string,
  `kind` string,
  `external_id` string,
  `thread_id` string,
  `occurred_at` timestamp,
  `received_at` timestamp,
  `stored_at` timestamp,
  `text` string,
  `language` string,
  `rating` smallint,
  `rating_scale` string,
  `author_channel_user_id` string,
  `author_handle` string,
  `author_name` string,
  `author_email` string,
  `permalink` string,
  `sentiment` string,
  `sentiment_positive` double,
  `sentiment_negative` double,
  `sentiment_neutral` double,
  `sentiment_mixed` double,
  `analyzer` string,
  `analyzed_at` timestamp,
  `skipped_reason` string,
  `customer_id` string,
  `pii_redacted` boolean,
  `platform_deleted_at` timestamp,
  `themes` array<struct<id:string,name:string,sentiment:string>>
)
COMMENT 'Customer feedback, one row per stored item, exported nightly (UTC days)'
PARTITIONED BY (`dt` string)
STORED AS PARQUET
LOCATION 's3://${bucket}/exports/parquet/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2024-01-01,NOW',
  'projection.dt.interval' = '1',
  'projection.dt.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://${bucket}/exports/parquet/dt=${dt}/',
  'classification' = 'parquet'
);
