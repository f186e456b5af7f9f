"""Serverless customer-feedback collector: the code shared by every Lambda function and the admin CLI."""
