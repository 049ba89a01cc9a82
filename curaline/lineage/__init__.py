"""Lineage: OpenLineage events (dataset level), the record ledger, and the query views.

- `emitter`: START/COMPLETE/FAIL events of asset materializations, with their facets;
- `custom_facets` (+ ``facets/*.json``): curaline's source declaration, licence mix, removals;
- `delivery`: the client's transports behind an outbox, with a bounded wait;
- `store`, `versions`: the events as parquet, dataset versions by content hash;
- `views`, `queries`, `cli`: read-only DuckDB views and `curaline lineage ...`;
- `index`: a SQLite cache of the lineage by doc id, so `lineage trace` needs neither DuckDB nor pyarrow;
- `validate`: offline validation against the official OpenLineage JSON schemas.

Importing this package imports nothing heavy: the CLI's fast path stays fast.
"""
