"""pii_redacted: emails, phones, IPs, cards, IBANs, SSNs and secrets replaced by typed placeholders."""

from assets.record_stage import Histogram, record_stage_asset
from curaline.kernels import pii

pii_redacted = record_stage_asset(
    name="pii_redacted",
    signal_columns=pii.SIGNAL_COLUMNS,
    signal_column="pii_total",
    histogram=Histogram("PII spans redacted per record", "spans"),
    description=(
        "Records with personal data redacted in every text field: emails, phone numbers, IPv4/IPv6, "
        "Luhn-checked card numbers, mod-97-checked IBANs, US SSNs and API keys/secrets become "
        "`<EMAIL>`, `<PHONE>`, ... Counts per type are kept in `pii_counts`; the ledger and metadata "
        "carry counts only, never the PII itself. Nothing is dropped here."
    ),
)
