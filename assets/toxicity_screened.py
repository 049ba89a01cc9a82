"""toxicity_screened: multi-category toxicity with severity; drop above, tag below the policy."""

from assets.record_stage import Histogram, record_stage_asset
from curaline.kernels import toxicity

toxicity_screened = record_stage_asset(
    name="toxicity_screened",
    signal_columns=toxicity.SIGNAL_COLUMNS,
    signal_column="toxicity",
    histogram=Histogram("toxicity score (max over categories)", "score", threshold=lambda c: c.drop_severity),
    description=(
        "Records scored for insult, identity hate, sexual content, violence, self-harm and "
        "profanity with obfuscation handling and context rules (medical, educational, quoted or "
        "reported use is damped, so 'breast cancer screening' stays). Records at or above the "
        "project's drop severity are dropped with reason `toxicity_<category>`; lower ones are "
        "tagged in `toxicity_tags`. Preference `rejected` answers are not scored by default."
    ),
)
