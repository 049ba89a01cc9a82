"""Shards: a source read as bounded slices, each processed once, committed atomically.

- `plan`: which files (or byte / row ranges of one large file) make up each shard;
- `reader`: ingest one shard (the same records, ids and quarantine rows as a whole-source read);
- `commit`: a shard's outputs and ledger files become visible together, exactly once;
- `runner`: one pass per shard through the per-record stage chain, validated in the worker.
"""
