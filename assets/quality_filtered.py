"""quality_filtered: Gopher, C4 and FineWeb heuristics for documents; fitting rules for SFT/preference."""

from assets.record_stage import Histogram, record_stage_asset
from curaline.kernels import quality

quality_filtered = record_stage_asset(
    name="quality_filtered",
    signal_columns=lambda kind: quality.SIGNALS_BY_KIND[kind],
    signal_column="q_word_count",
    histogram=Histogram("words per document", "words", log_x=True, threshold=lambda c: c.min_doc_words),
    description=(
        "Records that pass the published heuristic quality rules: Gopher quality and repetition "
        "(Rae et al. 2021), C4 (Raffel et al. 2020) and FineWeb (Penedo et al. 2024) for documents; "
        "trivial, echoed and truncated responses for instructions; identical pairs for preferences. "
        "Every signal is kept as a `q_*` column so thresholds can change without recomputing; each "
        "drop names its first failing rule, the measured value and the threshold."
    ),
)
