"""CRM sync: stored feedback pushed to the CRMs configured as connections (HubSpot; Salesforce to come).

`base.py` is the contract a CRM target implements, `connections.py` the configured connections and their
secrets, `hubspot.py` the HubSpot target, `sync.py` what the stream/queue consumer calls.
"""
