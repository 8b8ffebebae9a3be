"""CRM webhooks (HubSpot, Pipedrive, Salesforce) turned into native events at the edge.

The streaming core never sees a vendor format: each adapter (``hubspot``, ``pipedrive``,
``salesforce``) is a pure function from a vendor delivery and the mapping file (``mapping``) to
native event objects; ``router`` authenticates, validates and publishes them. docs/CRM.md says
how to point each CRM at salespulse and which choices the mappings make.
"""
