"""Which stage outputs hold personal data verbatim, and so may not leave the machine by default.

Where PII is redacted, and why there: the `pii_redacted` stage runs right after
`normalized`, before every stage that judges the text (raw_records -> url_filtered ->
normalized -> pii_redacted -> language_checked -> quality_filtered -> toxicity_screened).

- Not earlier: detection needs normalized text. Before NFC, mojibake repair and the
  removal of zero-width and control characters, an e-mail split by a zero-width space, a
  phone number in full-width digits or an address in mojibake escapes the patterns. The
  URL filter before it reads the `url` field only, and drops records, never rewrites text.
- Not later: every stage after it then sees placeholders only, so its outputs, its ledger
  details, its metadata and its samples in the Dagster UI can hold no PII, and a quality
  or language decision is made on the text that is trained on. The language stage does
  not read the placeholders (`LangIdConfig.placeholder_pattern`, derived from
  `stages.pii_redacted.placeholder`): `<EMAIL>` is English words, no evidence of a
  record's language. The quality rules read them as the training text has them (a page
  of redacted addresses is as repetitive as the text a model would see); see
  tests/test_pii_placeholders.py.
- Decontamination reads evaluation items from `pii_redacted` too, so an item and its
  copy in the training data carry the same placeholders.

So the outputs that hold the source's text as read are `raw_records` and
`quarantined_records` (raw bytes of bad input), `url_filtered` and `normalized`. Those
files stay in the project and its local DVC cache; `versioning.push` sends them to a
remote only when the remote is a local folder (the default `.dvc-store`) or
`curaline.yaml` sets `pii_to_remote: true`, and `curaline takedown ... --erase` purges a
record from them. The list itself is the registry's (`Stage.pii` in curaline/stages.py).
"""

from __future__ import annotations

from urllib.parse import urlparse

from curaline.stages import PII_STAGES

__all__ = ["PII_STAGES", "holds_pii", "is_local_remote"]


def holds_pii(path: str) -> bool:
    """Whether a project-relative output path (as in dvc.lock) belongs to a PII-holding stage."""
    parts = path.replace("\\", "/").split("/")
    if len(parts) < 2 or parts[0] != "data":
        return False
    return parts[1] in PII_STAGES or parts[1].removesuffix(".parquet") in PII_STAGES


def is_local_remote(url: str) -> bool:
    """A DVC remote that is a folder on this machine (a path, or file://) rather than a service."""
    scheme = urlparse(url).scheme
    return scheme in ("", "file") or (len(scheme) == 1 and url[1:2] == ":")  # C:\\ on Windows
