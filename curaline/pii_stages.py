"""Which stage outputs hold personal data verbatim, and so may not leave the machine by default.

PII is redacted by the `pii_redacted` stage. Every output before it holds the source's
text as read: `raw_records` and `quarantined_records` (raw bytes of bad input), then
`normalized`, `language_checked` and `quality_filtered`. Those files stay in the project
and its local DVC cache; `versioning.push` sends them to a remote only when the remote is
a local folder (the default `.dvc-store`) or `curaline.yaml` sets `pii_to_remote: true`.

Why redaction is not earlier: detection needs normalized text (NFC, repaired mojibake,
zero-width characters removed: otherwise an e-mail split by a zero-width space or written
in full-width digits escapes the patterns), so the earliest sound place is right after
`normalized`. Moving it there changes the stage graph (language and quality signals would
see placeholders); until then the registry's PII-holding stages are what must stay local. The list itself is the registry's (`Stage.pii` in curaline/stages.py).
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
