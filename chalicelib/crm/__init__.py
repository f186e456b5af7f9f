"""CRM sync: stored feedback pushed to the CRMs configured as connections (HubSpot, Salesforce).

`base.py` is the contract a CRM target implements, `connections.py` the configured connections and their
secrets, `hubspot.py` and `salesforce.py` the targets (their API clients beside them, what they share in
`common.py`), `sync.py` what the stream/queue consumer calls.
"""
