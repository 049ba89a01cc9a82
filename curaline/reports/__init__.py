"""Reports built from data and lineage: stage reports, cards, compliance summaries."""
