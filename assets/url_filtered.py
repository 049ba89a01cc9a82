"""url_filtered: records whose URL a project blocklist names are dropped, one ledger reason per list."""

from assets.record_stage import Histogram, record_stage_asset
from curaline.web import urlfilter

url_filtered = record_stage_asset(
    name="url_filtered",
    signal_columns=urlfilter.SIGNAL_COLUMNS,
    signal_column="url_list_hits",
    histogram=Histogram("blocklists matching each record's URL", "lists"),
    description=(
        "Records whose URL is on a domain, URL-prefix or pattern blocklist the project provides "
        "(plain lists or the UT1 blacklist layout, `stages.url_filtered` in curaline.yaml) are "
        "dropped; the reason names the list (`url_blocklist:<list>`), the detail the entry. An "
        "allow-list overrides. Records without a URL pass."
    ),
    make_config=lambda manifest, project: urlfilter.load_filters(project.root, project.config.for_stage("url_filtered")),
)
