"""Pure per-record kernels over Arrow tables: no Dagster, no I/O.

Each curation stage has one module here; the Dagster assets only call them.
"""
