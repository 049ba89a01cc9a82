"""Dagster wiring: one module per curation stage, each a thin call into `curaline`."""
