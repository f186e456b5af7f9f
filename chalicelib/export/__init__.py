"""Day exports to S3: CSV, JSON Lines and a manifest (Parquet and CRM layouts plug in as writers)."""
