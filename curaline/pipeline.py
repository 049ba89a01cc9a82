"""The curation stages in flow order: the names the assets, ledger and reports share."""

from __future__ import annotations

#: per-source stages, each reading the previous one's output for the same source
PER_SOURCE_STAGES = (
    "raw_records",
    "normalized",
    "language_checked",
    "quality_filtered",
    "pii_redacted",
    "toxicity_screened",
)

#: global stages that still write one file per (training) source, in flow order
GLOBAL_STAGES = ("deduplicated", "decontaminated", "preference_pairs")

#: every stage that writes per-source data, in flow order (what `lineage trace` lists)
FLOW_ORDER = (*PER_SOURCE_STAGES, "minhash_bands", *GLOBAL_STAGES)
