"""The stage registry: every asset of the pipeline, written down once.

One row per asset key. Its name is the asset key, the ledger's `stage`, the folder of
its data (`data/<name>/`), its Dagster module (`assets/<name>.py`, unless `module` says
otherwise) and its settings key in curaline.yaml (`stages: {<name>: {...}}`). Everything
else that used to repeat the graph is derived from this table:

- definitions.py: which assets exist (module + attribute), their jobs and sensors;
- curaline.stage_outputs: the generated dvc.yaml (its stages, deps, outs and params);
- reports/operations.py: each operation's purpose and settings;
- `lineage trace` (flow order), `curaline run` and the sensor waves (job order);
- each asset's `code_version`: a hash of its kernel's source, so Dagster shows an asset
  stale when the code that makes it changed.

Adding a stage: one kernel module, one row here (in flow order: a row comes after its
upstream rows), one short asset module `assets/<name>.py` defining an asset `<name>`.
tests/test_stages.py checks this table against the Dagster Definitions and dvc.yaml.

This module imports nothing but the standard library: the library, the Dagster side and
the tests all read it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

#: where a stage runs: once (the catalog), per source partition, once over every source,
#: per release partition; also the order `curaline run` and the sensor waves run them in
Scope = Literal["catalog", "source", "global", "release"]
SCOPES: tuple[Scope, ...] = ("catalog", "source", "global", "release")
#: the Dagster job that runs each scope's assets
JOBS: dict[Scope, str] = {"catalog": "catalog_job", "source": "per_source_job", "global": "global_job",
                          "release": "release_job"}  # fmt: skip
#: the Dagster dynamic partitions of a scope (the DVC `foreach` axis)
PARTITIONS: dict[Scope, str | None] = {"catalog": None, "source": "sources", "global": None, "release": "releases"}

#: asset groups (the UI's boxes), in flow order
SOURCING, CLEANING, DEDUP, ANNOTATION, PREFERENCE, RELEASE, COMPLIANCE = (
    "sourcing", "cleaning", "dedup", "annotation", "preference", "release", "compliance")  # fmt: skip

#: dvc.yaml path placeholders: a source id, a release name, a source's own files
SOURCE, RELEASE_NAME, SOURCE_DATA = "{source}", "{release}", "{source_data}"


@dataclass(frozen=True)
class Stage:
    name: str
    scope: Scope
    group: str
    #: the asset keys it reads (Dagster deps, and DVC deps on their outputs); the first that
    #: holds records is the input it transforms (`records_input`)
    upstream: tuple[str, ...]
    #: the files or folders it writes (DVC outs, relative to the project; placeholders above)
    outputs: tuple[str, ...]
    #: "module:function" of its pure kernel; the module's source hashes into code_version
    kernel: str | None = None
    #: further modules whose source makes its output (hashed into code_version too)
    code: tuple[str, ...] = ()
    #: model and data files shipped in the package that make its output, relative to the
    #: curaline package (hashed into code_version too: a rebuilt model is a changed stage)
    model_files: tuple[str, ...] = ()
    #: "module:ConfigClass" of its settings, read from `stages.<name>` in curaline.yaml
    config: str | None = None
    #: other stages whose settings it reads too (their `stages.<stage>` keys)
    reads_config: tuple[str, ...] = ()
    #: "module:function" of the project files its settings name (the function takes its config, an
    #: instance of `config`, and returns paths relative to the project): DVC deps, so editing one of
    #: them (a URL blocklist) makes the stage changed
    config_files: str | None = None
    #: top-level curaline.yaml keys it reads (DVC params)
    params: tuple[str, ...] = ()
    #: inputs that are not assets (DVC deps): manifests, the source's files, release specs
    extra_deps: tuple[str, ...] = ()
    #: the source kinds it writes per-source files for (None: every source)
    kinds: tuple[str, ...] | None = None
    #: its outputs hold personal data as read (before pii_redacted): erasure must reach them
    pii: bool = False
    #: its output is the records themselves, one file per source: a record passes it or is
    #: dropped at it (what `curaline run`'s summary and a release's pipeline count)
    records: bool = False
    #: the Dagster step that materializes it, when several assets share one (a multi-asset)
    op: str | None = None
    #: the module under assets/ that defines it, when not `<name>`
    module: str | None = None
    #: what the stage is for, as the EU AI Act summary and Art. 10(2)(c) cite it
    purpose: str = ""

    @property
    def step(self) -> str:
        """The op name: the DVC stage name and what `curaline materialize` takes."""
        return self.op or self.name

    @property
    def asset_module(self) -> str:
        return f"assets.{self.module or self.name}"

    @property
    def partitions(self) -> str | None:
        return PARTITIONS[self.scope]

    @property
    def config_keys(self) -> tuple[str, ...]:
        """The `stages:` keys of curaline.yaml it reads: its own first."""
        return ((self.name,) if self.config else ()) + self.reads_config

    @property
    def code_version(self) -> str:
        return code_version(self.name)


def _per_source(stage: str) -> str:
    return f"data/{stage}/{SOURCE}.parquet"


def _sharded(stage: str) -> str:
    """A folder per source: one file per shard (curaline.shards), one DVC out, one dataset to readers."""
    return f"data/{stage}/{SOURCE}"


#: the Dagster step (a multi-asset) that ingests a source and runs its per-record stages shard by shard
SOURCE_RECORDS = "source_records"


#: what every compliance document is made from, besides its own module
_REPORT_CODE = ("curaline.reports.release_data", "curaline.reports.operations")


def _reports(*files: str) -> tuple[str, ...]:
    return tuple(f"data/reports/{RELEASE_NAME}/{f}" for f in files)


STAGES: tuple[Stage, ...] = (
    Stage("source_catalog", "catalog", SOURCING, (), ("data/source_catalog.parquet",), kernel="curaline.sources:catalog_table",
          extra_deps=("sources",)),
    Stage("raw_records", "source", SOURCING, ("source_catalog",), (_sharded("raw_records"),),
          kernel="curaline.ingest:ingest_source", code=("curaline.oasst",), params=("ingest",),
          extra_deps=("sources/{source}.yaml", SOURCE_DATA), pii=True, records=True, op=SOURCE_RECORDS,
          module=SOURCE_RECORDS, purpose="collection: read the source files; malformed input quarantined with its reason"),
    Stage("quarantined_records", "source", SOURCING, ("source_catalog",), (_sharded("quarantined_records"),),
          kernel="curaline.ingest:ingest_source", code=("curaline.oasst",), pii=True, op=SOURCE_RECORDS,
          module=SOURCE_RECORDS),
    Stage("url_filtered", "source", CLEANING, ("raw_records",), (_sharded("url_filtered"),),
          kernel="curaline.web.urlfilter:filter_urls", config="curaline.web.urlfilter:UrlFilterConfig",
          config_files="curaline.web.urlfilter:list_files", pii=True, records=True, op=SOURCE_RECORDS, module=SOURCE_RECORDS,
          purpose="selection: URL filters (domain, URL and pattern blocklists the project provides, UT1 "
                  "categories); an allow-list overrides"),
    Stage("normalized", "source", CLEANING, ("url_filtered",), (_sharded("normalized"),),
          kernel="curaline.kernels.normalize:normalize_text", config="curaline.kernels.normalize:NormalizeConfig",
          pii=True, records=True,
          op=SOURCE_RECORDS, module=SOURCE_RECORDS,
          purpose="cleaning: text normalization (mojibake, Unicode NFC, control characters, whitespace)"),
    Stage("pii_redacted", "source", CLEANING, ("normalized",), (_sharded("pii_redacted"),),
          kernel="curaline.kernels.pii:redact_pii", config="curaline.kernels.pii:PiiConfig", records=True,
          op=SOURCE_RECORDS, module=SOURCE_RECORDS,
          purpose="personal data: e-mails, phone numbers, IPs, card numbers, IBANs, SSNs and secrets redacted"),
    Stage("language_checked", "source", CLEANING, ("pii_redacted",), (_sharded("language_checked"),),
          kernel="curaline.kernels.langid:detect_language", config="curaline.kernels.langid:LangIdConfig",
          code=("curaline.kernels.langid_wide", "curaline.kernels.langid_kin", "curaline.kernels.langid_tail",
                "curaline.kernels.langcodes", "curaline.kernels.scripts"),
          model_files=("kernels/langid_kin.json", "kernels/langid_tail.npz"),
          records=True,
          op=SOURCE_RECORDS, module=SOURCE_RECORDS,
          purpose="selection: language identification; languages a source does not declare are removed"),
    Stage("quality_filtered", "source", CLEANING, ("language_checked",), (_sharded("quality_filtered"),),
          kernel="curaline.kernels.quality:score_quality",
          code=("curaline.kernels.textstats", "curaline.kernels.code_rules", "curaline.kernels.quality_model"),
          model_files=("kernels/quality_model_data/default.npz",),
          config="curaline.kernels.quality:QualityConfig", records=True,
          op=SOURCE_RECORDS, module=SOURCE_RECORDS,
          purpose="cleaning: heuristic quality rules (Gopher, C4, FineWeb; SFT and preference checks)"),
    Stage("toxicity_screened", "source", CLEANING, ("quality_filtered",), (_sharded("toxicity_screened"),),
          kernel="curaline.kernels.toxicity:score_toxicity", config="curaline.kernels.toxicity:ToxicityConfig",
          model_files=("kernels/toxicity_data/lexicon.txt",),
          records=True,
          op=SOURCE_RECORDS, module=SOURCE_RECORDS,
          purpose="harmful content: per-category toxicity classifier (lexicon with context rules); "
                  "severe records removed"),
    Stage("minhash_bands", "source", DEDUP, ("toxicity_screened",), (_sharded("minhash_bands"),),
          kernel="curaline.minhash_bands:source_signatures", code=("curaline.kernels.minhash",),
          config="curaline.kernels.minhash:MinHashConfig", reads_config=("deduplicated",)),
    Stage("annotation_agreement", "source", ANNOTATION, ("raw_records",),
          (_per_source("annotation_agreement"), _per_source("annotator_agreement")),
          kernel="curaline.annotation.agreement:measure", config="curaline.annotation.agreement:AgreementConfig",
          kinds=("annotation",), module="annotation"),
    Stage("adjudicated_labels", "source", ANNOTATION, ("annotation_agreement",), (_per_source("adjudicated_labels"),),
          kernel="curaline.annotation.labels:adjudicate", config="curaline.annotation.labels:LabelConfig",
          reads_config=("review_queue",), extra_deps=(_sharded("raw_records"),),  # the judgements
          kinds=("annotation",), module="annotation"),
    Stage("review_queue", "source", ANNOTATION, ("annotation_agreement",), (_per_source("review_queue"),),
          kernel="curaline.annotation.review:review_queue", config="curaline.annotation.review:ReviewConfig",
          kinds=("annotation",), op="adjudicated_labels", module="annotation"),
    Stage("deduplicated", "global", DEDUP, ("toxicity_screened", "minhash_bands"), ("data/deduplicated",),
          kernel="curaline.dedup:deduplicate", code=("curaline.kernels.dedup", "curaline.kernels.minhash"),
          config="curaline.kernels.dedup:DedupConfig", reads_config=("minhash_bands",), records=True,
          purpose="cleaning: exact and near (MinHash LSH) deduplication across sources"),
    Stage("decontaminated", "global", DEDUP, ("deduplicated", "pii_redacted"), ("data/decontaminated",),
          kernel="curaline.decontamination:decontaminate_project", code=("curaline.kernels.decontam",),
          config="curaline.kernels.decontam:DecontamConfig", records=True,
          purpose="evaluation integrity: records sharing long n-grams with evaluation sets removed"),
    # preference pairs also read the judgements before dedup merged them (toxicity_screened)
    Stage("preference_pairs", "global", PREFERENCE, ("decontaminated",), ("data/preference_pairs",),
          kernel="curaline.preference.validate:validate_project", code=("curaline.preference.stats",),
          config="curaline.preference.validate:PreferenceConfig", reads_config=("quality_filtered",),
          extra_deps=(_sharded("toxicity_screened"),), kinds=("preference",), records=True,
          purpose="cleaning: preference-pair checks (truncated or identical answers, contradicting "
                  "judgements of the same pair)"),
    # the release contract: data/releases/<name>/ holds the current build of release <name>;
    # it reads toxicity_screened when its spec skips dedup, and the manifests' declarations
    # semantic dedup is set per release (`dedup: {semantic: COSINE}`); off, it writes an empty list
    Stage("semantic_deduplicated", "release", DEDUP, ("decontaminated", "deduplicated"),
          ("data/semantic_deduplicated/{release}.parquet",), kernel="curaline.semantic_dedup:semantic_deduplicate",
          code=("curaline.kernels.semdedup",), config="curaline.kernels.semdedup:SemDedupConfig",
          extra_deps=("releases/{release}.yaml", "sources", _sharded("toxicity_screened")),  # read when dedup is off
          purpose="cleaning: semantic deduplication (static word embeddings, k-means, cosine to a kept record at "
                  "or above the release spec's dedup.semantic threshold)"),
    Stage("release", "release", RELEASE, ("decontaminated", "deduplicated", "semantic_deduplicated", "preference_pairs",
                                          "toxicity_screened"),
          ("data/releases/{release}",), kernel="curaline.release.build:build_release",
          code=("curaline.release.versions", "curaline.release.checks", "curaline.drift"),
          params=("license_classes",), extra_deps=("releases/{release}.yaml", "sources", _sharded("toxicity_screened")),
          purpose="selection: release language and quality filters, licence gate, mix (up/down-sampling), splits"),
    Stage("preference_exports", "release", PREFERENCE, ("release",), ("data/exports/{release}",),
          kernel="curaline.preference.export:export_release"),
    # compliance documents of a release: beside, never inside, its DVC-tracked folder (the content hash)
    Stage("eu_ai_act_summary", "release", COMPLIANCE, ("release",), _reports("eu-ai-act.md", "eu-ai-act.json"),
          kernel="curaline.reports.eu_ai_act:eu_ai_act_summary", code=_REPORT_CODE,
          params=("provider",), module="reports"),
    Stage("art10_record", "release", COMPLIANCE, ("release",), _reports("art10.md", "art10.json"),
          kernel="curaline.reports.art10:art10_record", code=_REPORT_CODE, params=("stages",), module="reports"),
    Stage("dataset_card", "release", COMPLIANCE, ("release",), _reports("card.md", "croissant.json"),
          kernel="curaline.reports.card:card_facts", code=_REPORT_CODE, params=("provider",), module="reports"),
)  # fmt: skip

BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}

#: curaline.yaml `stages:` keys renamed to their stage's name; the old key is an error naming the new
RENAMED_CONFIG_KEYS: dict[str, str] = {
    "normalize": "normalized", "language": "language_checked", "quality": "quality_filtered", "pii": "pii_redacted",
    "toxicity": "toxicity_screened", "minhash": "minhash_bands", "dedup": "deduplicated",
    "decontaminate": "decontaminated", "agreement": "annotation_agreement", "labels": "adjudicated_labels",
    "review": "review_queue",
}  # fmt: skip


def stage(name: str) -> Stage:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no stage {name!r} in curaline.stages.STAGES; known: {', '.join(BY_NAME)}") from None


def of_scope(scope: Scope) -> tuple[Stage, ...]:
    return tuple(s for s in STAGES if s.scope == scope)


def record_stages(scope: Scope) -> tuple[str, ...]:
    """The stages of a scope whose outputs are the records, in flow order."""
    return tuple(s.name for s in STAGES if s.scope == scope and s.records)


#: per-source stages a record passes, each reading the previous one's output for the same source
PER_SOURCE_STAGES = record_stages("source")
#: global stages that still write one file per (training) source, in flow order
GLOBAL_STAGES = record_stages("global")
#: every stage that writes per-source data, in flow order (how `lineage trace` orders stages)
FLOW_ORDER = tuple(s.name for s in STAGES if s.scope in ("source", "global"))
#: stages whose output for a source is a folder of shards, all made in one pass per shard
SHARDED_STAGES = tuple(s.name for s in STAGES if s.op == SOURCE_RECORDS)
#: stages whose output per source is a folder of shard files: the sharded chain, and the band
#: buckets the shard workers write beside it (curaline.minhash_bands)
FOLDER_STAGES = (*SHARDED_STAGES, "minhash_bands")
#: stages whose outputs hold personal data as it was read (before redaction)
PII_STAGES = tuple(s.name for s in STAGES if s.pii)


def records_input(name: str) -> str:
    """The stage whose records `name` transforms: its first upstream that holds records."""
    found = [u for u in stage(name).upstream if stage(u).records]
    if not found:
        raise ValueError(f"stage {name} reads no records stage: {stage(name).upstream}")
    return found[0]


def config_class_path(key: str) -> str | None:
    """The "module:ConfigClass" of a `stages:` key, or None for a key no stage owns (drift...)."""
    owner = BY_NAME.get(key)
    return owner.config if owner is not None else None


def renamed_config_problems(keys: list[str]) -> list[str]:
    """One message per old `stages:` key in curaline.yaml, naming the key that replaced it."""
    return [f"stages.{old} is now stages.{RENAMED_CONFIG_KEYS[old]} (settings are keyed by stage name)"
            for old in keys if old in RENAMED_CONFIG_KEYS]  # fmt: skip


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)


def kernel_function(name: str) -> Callable[..., Any]:
    """The stage's kernel, imported."""
    target = stage(name).kernel
    if target is None:
        raise ValueError(f"stage {name} names no kernel")
    return _resolve(target)


def config_class(key: str) -> type:
    """The settings dataclass of a `stages:` key of curaline.yaml (a stage's name)."""
    owner = BY_NAME.get(key)
    if owner is None or owner.config is None:
        raise KeyError(f"no stage {key!r} with settings; keys with settings: "
                       + ", ".join(s.name for s in STAGES if s.config))  # fmt: skip
    return _resolve(owner.config)


def _module_source(module: str) -> bytes:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"module {module} of the stage registry is not importable")
    return Path(spec.origin).read_bytes()


def source_hash(modules: list[str]) -> str:
    """A short hash of the modules' source files (read, not imported)."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(module.encode() + b"\0" + _module_source(module) + b"\0")
    return digest.hexdigest()[:16]


#: where a stage's model_files are
PACKAGE_DIR = Path(__file__).resolve().parent


def files_hash(files: list[str], root: Path = PACKAGE_DIR) -> str:
    """A short hash of files' bytes (models, lexicons), named relative to root."""
    digest = hashlib.sha256()
    for rel in files:
        path = root / rel
        if not path.is_file():
            raise ValueError(f"model file {rel} of the stage registry is not in {root}")
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def code_version(name: str) -> str:
    """A hash of the stage's kernel (and listed code) source, and of its model files: it changes
    when that code or a model changes."""
    row = stage(name)
    modules = [m for m in ((row.kernel or "").partition(":")[0], *row.code) if m]
    code = source_hash(modules) if modules else "1"
    if not row.model_files:
        return code
    return hashlib.sha256(f"{code}:{files_hash(list(row.model_files))}".encode()).hexdigest()[:16]
