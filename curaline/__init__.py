"""curaline: curated, licence-aware training data with record-level lineage.

The library never imports Dagster; the Dagster wiring lives in assets/, resources/,
sensors/ and definitions.py at the repository root.
"""

__version__ = "0.1.0"
