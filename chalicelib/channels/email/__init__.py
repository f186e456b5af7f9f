"""E-mail as a feedback channel: a received mail parsed into one FeedbackEvent, and its receiving paths."""
