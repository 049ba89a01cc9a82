"""Lineage: OpenLineage events (dataset level), the record ledger, and the query views."""
