"""The CDK v2 app that deploys the product: `python infra/app.py` synthesizes it, `make deploy` deploys it."""
