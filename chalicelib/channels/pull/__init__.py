"""Pulled reviews: sources whose platform has no webhooks (Google Play, the App Store, Google Business
Profile), polled on a schedule from a checkpoint kept in the table (README, "Pulled reviews")."""
