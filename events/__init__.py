"""The edge of the event log: native event models, validation, codecs, topic routing.

Raw payloads (HTTP bodies, Kafka bytes, CRM webhooks) become typed events only here; the streaming
core and the projections never see an unvalidated payload.
"""
