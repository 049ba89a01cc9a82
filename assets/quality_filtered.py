"""quality_filtered: Gopher, C4 and FineWeb heuristics plus a learned classifier for documents;
code rules for code sources; fitting rules for SFT/preference."""

from assets.record_stage import Histogram, record_stage_asset
from curaline.kernels import quality
from curaline.lineage.models import quality_model_input
from curaline.stage_settings import quality_config

quality_filtered = record_stage_asset(
    name="quality_filtered",
    make_config=lambda manifest, project: quality_config(project),
    model_inputs=quality_model_input,
    signal_columns=lambda kind: quality.SIGNALS_BY_KIND[kind],
    signal_column="q_word_count",
    histogram=Histogram("words per document", "words", log_x=True, threshold=lambda c: c.min_doc_words),
    description=(
        "Records that pass the published heuristic quality rules: Gopher quality and repetition "
        "(Rae et al. 2021), C4 (Raffel et al. 2020) and FineWeb (Penedo et al. 2024) for documents; "
        "trivial, echoed and truncated responses for instructions; identical pairs for preferences. "
        "With the defaults a learned classifier (shipped in the package, DCLM recipe) adds "
        "`q_model_score` and drops documents below `quality_model_low`; code sources use The Stack / "
        "StarCoder file rules instead (profile `code`). "
        "Every signal is kept as a `q_*` column so thresholds can change without recomputing; each "
        "drop names its first failing rule, the measured value and the threshold."
    ),
)
