"""Day exports to S3: CSV, JSON Lines, Parquet, the CRM layouts (contacts.csv, activities.csv), a manifest."""
