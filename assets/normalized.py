"""normalized: Unicode NFC, mojibake repair, control characters and whitespace."""

from assets.record_stage import Histogram, record_stage_asset
from curaline.kernels import normalize

normalized = record_stage_asset(
    name="normalized",
    signal_columns=normalize.SIGNAL_COLUMNS,
    signal_column="normalize_changes",
    histogram=Histogram("changes per record (bitmask: 1 mojibake, 2 NFC, 4 control, 8 whitespace)", "bitmask"),
    description=(
        "Records with repaired text: mojibake fixed (ftfy's encoding fixers only), NFC, control "
        "characters removed, whitespace normalized; records left empty are dropped. Every change "
        "is a `modify` ledger row naming what changed."
    ),
)
