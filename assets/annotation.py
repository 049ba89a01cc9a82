"""annotation_agreement, adjudicated_labels, review_queue: human judgements, per annotation source.

They are in the per-source job, but only an annotation source materializes them: the
sensors and `curaline run` leave them out of other sources' runs, and run from the UI
for another kind of source they record nothing (their checks pass with a note), so its
partition stays empty instead of showing a meaningless materialization. For an annotation source, a task whose Krippendorff's alpha is
under its floor fails the blocking `alpha_floor` check, and no labels are made from it.
"""

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from assets.common import (
    column_schema,
    counts_table,
    dvc_track,
    schema_check_result,
    source_partitions,
    stage_asset_args,
    stage_spec_args,
)
from curaline.annotation import agreement as agr
from curaline.annotation.judgements import COLUMNS, by_task
from curaline.annotation.labels import LABEL_SCHEMA, TaskLabels, adjudicate
from curaline.annotation.review import ReviewConfig, review_queue
from curaline.reports.plots import bar_svg, histogram_svg, svg_markdown
from curaline.schemas import AdjudicatedLabel, ReviewItem, validate_file
from curaline.sources import SourceManifest
from curaline.store import file_digest, write_parquet
from resources.lineage import LineageResource
from resources.project import ProjectResource

AGREEMENT = dg.AssetKey("annotation_agreement")
LABELS = dg.AssetKey("adjudicated_labels")
REVIEW = dg.AssetKey("review_queue")
#: per-annotator rows of the agreement asset (a second file beside its per-task table)
ANNOTATOR_STAGE = "annotator_agreement"
INPUT_STAGE = "raw_records"


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _not_annotation(manifest: SourceManifest) -> str:
    return (f"`{manifest.id}` is a `{manifest.kind}` source, not `annotation`: no judgements to measure "
            "or adjudicate, nothing written.")  # fmt: skip


def _judgements(project: ProjectResource, manifest: SourceManifest):
    table = pq.read_table(project.project.stage_path(INPUT_STAGE, manifest.id), columns=list(COLUMNS))
    return by_task(table, manifest.label_type or "nominal", manifest.labels)


def _records(table: pa.Table, limit: int = 200) -> list[dg.TableRecord]:
    rows = []
    for row in table.slice(0, limit).to_pylist():
        rows.append(dg.TableRecord({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                                    if not isinstance(v, list) and (v is None or isinstance(v, (str, int, float, bool)))}))  # fmt: skip
    return rows


def _table_value(table: pa.Table, types: dict[str, str], limit: int = 200) -> dg.TableMetadataValue:
    schema = dg.TableSchema(columns=[dg.TableColumn(name, typ) for name, typ in types.items()])
    return dg.MetadataValue.table(_records(table.select(list(types)), limit), schema=schema)


def floor_report(results: list[agr.TaskAgreement]) -> str:
    """Markdown: each task's alpha against its floor, the verdict in words."""
    lines = ["| task | type | items | annotators | judgements | alpha | floor | verdict |",
             "|---|---|---:|---:|---:|---:|---:|---|"]  # fmt: skip
    for r in results:
        if not np.isfinite(r.alpha):
            verdict = "**fails**: alpha undefined (no item has two judgements, or one label only)"
        elif r.passed:
            verdict = "passes"
        else:
            verdict = f"**fails**: {r.alpha_floor - r.alpha:.3f} under the floor"
        lines.append(f"| {r.task} | {r.label_type} | {r.items} | {r.annotators} | {r.judgements} | "
                     f"{_fmt(r.alpha)} | {r.alpha_floor:.3f} | {verdict} |")  # fmt: skip
    failing = [r for r in results if not r.passed]
    if failing:
        lines += ["", f"{len(failing)} task(s) below the floor: labels are not made from them until their "
                  "annotation is repeated or the floor is changed (manifest `alpha_floor`). Krippendorff: "
                  "0.667 is the lowest alpha for tentative conclusions, 0.8 for firm ones."]  # fmt: skip
    return "\n".join(lines)


@dg.asset(
    **stage_asset_args("annotation_agreement"),
    kinds={"python", "parquet"},
    output_required=False,  # only annotation sources materialize it
    description=(
        "Inter-annotator agreement of every task of an annotation source: Krippendorff's alpha for "
        "the manifest's label type (nominal, ordinal, interval; missing judgements allowed), Fleiss' "
        "kappa, Cohen's kappa per annotator pair, the label coincidence (confusion) matrix, and per "
        "annotator: agreement with the others, kappa against the others' majority, accuracy on gold "
        "items, flagged when below the floor (curaline.yaml stages.annotation_agreement). One row per task in "
        "data/annotation_agreement/, one per (task, annotator) in data/annotator_agreement/. "
        "Other kinds of source: nothing to measure."
    ),
    check_specs=[
        dg.AssetCheckSpec("alpha_floor", asset=AGREEMENT, blocking=True,
                          description="every task's Krippendorff's alpha is at least the source's alpha_floor "
                                      "(default 0.667); a failing task blocks its labels"),
    ],  # fmt: skip
)
def annotation_agreement(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    manifest = project.manifest(context.partition_key)
    if manifest.kind != "annotation":  # nothing to measure: no materialization (the partition stays empty)
        note = _not_annotation(manifest)
        context.log.info(note)
        yield dg.AssetCheckResult(check_name="alpha_floor", asset_key=AGREEMENT, passed=True, metadata={"note": note})
        return
    proj = project.project
    config = proj.config.for_stage("annotation_agreement")
    tasks_path, annotators_path = proj.stage_path(AGREEMENT.path[-1], manifest.id), proj.stage_path(ANNOTATOR_STAGE, manifest.id)
    with lineage.materialization(context) as run:
        results = [agr.measure(j, manifest.alpha_floor, config) for j in _judgements(project, manifest)]
        tasks, annotators = agr.tasks_table(results), agr.annotators_table(results)
        write_parquet(tasks_path, tasks)
        write_parquet(annotators_path, annotators)
        version = dvc_track(proj, AGREEMENT.path[-1], manifest.id)[tasks_path.relative_to(proj.root).as_posix()]
        report = floor_report(results)
        check = dg.AssetCheckResult(
            check_name="alpha_floor", asset_key=AGREEMENT, passed=all(r.passed for r in results),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"tasks": len(results), "failing_tasks": sum(not r.passed for r in results),
                      "report": dg.MetadataValue.md(report)},
        )  # fmt: skip
        run.output(tasks_path, asset_key=AGREEMENT, version=version, rows=tasks.num_rows, licence_mix=False)
        run.output(annotators_path, asset_key=AGREEMENT, version=file_digest(annotators_path), rows=annotators.num_rows,
                   licence_mix=False, stage=ANNOTATOR_STAGE)  # fmt: skip
        run.checks(tasks_path, [check])
    flagged = annotators.filter(pc.equal(annotators["flagged"], True)) if annotators.num_rows else annotators
    alphas = svg_markdown(bar_svg([r.task for r in results], [max(r.alpha, 0) if np.isfinite(r.alpha) else 0 for r in results],
                                  title="Krippendorff's alpha per task (negative shown as 0)"), "alpha per task")  # fmt: skip
    metric = "kappa_vs_majority" if any(r.label_type != "interval" for r in results) else "alpha_vs_others"
    scores = annotators[metric].to_numpy(zero_copy_only=False).astype(float) if annotators.num_rows else np.array([])
    spread = svg_markdown(histogram_svg(scores, title=f"annotators' {metric}", xlabel=metric, bins=30,
                                        threshold=config.annotator_floor), "annotator agreement")  # fmt: skip
    confusion = "\n\n".join(f"**Label coincidences, task `{r.task}`** (pairs of judgements of the same item; "
                            f"`agree` = P(another judgement agrees | this label))\n\n{agr.confusion_markdown(r)}"
                            for r in results[:5])  # fmt: skip
    summary = "\n".join(
        f"- `{r.task}`: alpha {_fmt(r.alpha)}, Fleiss' kappa {_fmt(r.fleiss_kappa)}, mean Cohen's kappa "
        f"{_fmt(r.cohen_kappa_mean)} over {r.cohen_pairs.num_rows} pairs, {r.gold_items} gold items, "
        f"{len(r.flagged)} annotator(s) flagged" for r in results)  # fmt: skip
    flagged_md = "\n".join(f"| {t} | {a} | {n} | {_fmt(k)} | {_fmt(g)} | {why} |" for t, a, n, k, g, why in zip(
        *(flagged[c].to_pylist() for c in ("task", "annotator_id", "judgements", metric, "gold_accuracy", "flag_reason")),
        strict=True)) if flagged.num_rows else ""  # fmt: skip
    md = "\n\n".join([
        f"### Agreement of `{manifest.id}` ({manifest.label_type}, {len(results)} task(s))", report, summary, alphas,
        ("**Flagged annotators**\n\n| task | annotator | judgements | " + metric + " | gold accuracy | why |\n"
         "|---|---|---:|---:|---:|---|\n" + flagged_md) if flagged_md else "**Flagged annotators:** none",
        spread, confusion,
    ])  # fmt: skip
    first = results[0] if results else None
    yield dg.MaterializeResult(
        asset_key=AGREEMENT,
        data_version=dg.DataVersion(version),
        metadata={
            "applies": True,
            "dagster/row_count": tasks.num_rows,
            "path": dg.MetadataValue.path(str(tasks_path)),
            "annotators_path": dg.MetadataValue.path(str(annotators_path)),
            "krippendorff_alpha": float(first.alpha) if first and np.isfinite(first.alpha) else float("nan"),
            "min_alpha": float(np.nanmin([r.alpha for r in results])) if results and any(np.isfinite(r.alpha) for r in results) else float("nan"),
            "alpha_floor": manifest.alpha_floor,
            "tasks_below_floor": sum(not r.passed for r in results),
            "flagged_annotators": flagged.num_rows,
            "tasks": _table_value(tasks, {"task": "string", "label_type": "string", "items": "int", "annotators": "int",
                                          "judgements": "int", "krippendorff_alpha": "float", "alpha_floor": "float",
                                          "passed": "bool", "fleiss_kappa": "float", "cohen_kappa_mean": "float",
                                          "gold_items": "int"}),
            "per_annotator": _table_value(annotators, {"task": "string", "annotator_id": "string", "judgements": "int",
                                                       "agreement_with_others": "float", "alpha_vs_others": "float",
                                                       "kappa_vs_majority": "float", "gold_accuracy": "float",
                                                       "flagged": "bool", "flag_reason": "string"}),
            "report": dg.MetadataValue.md(md),
        },
    )  # fmt: skip
    yield check


@dg.multi_asset(
    specs=[
        dg.AssetSpec(**stage_spec_args("adjudicated_labels"), kinds={"python", "parquet"}, skippable=True,
                     description=("One label per item of every task of an annotation source, by majority vote and by "
                                  "Dawid-Skene EM (annotator confusion matrices; gold items clamped), with the "
                                  "confidence (vote share / posterior) and the judgement count; interval tasks get "
                                  "the item mean. target_doc_id joins a label to the record it describes. "
                                  "`data/adjudicated_labels/<source>.parquet`, one row per (task, item, method).")),
        dg.AssetSpec(**stage_spec_args("review_queue"), kinds={"python", "parquet"}, skippable=True,
                     description=("Items whose label is uncertain (low posterior, split vote, or the two methods "
                                  "disagree), ordered by the expected value of one more judgement: the expected "
                                  "rise in P(label correct) under the Dawid-Skene model with an average annotator "
                                  "(interval tasks: the fall of the mean's squared standard error). Priority 1 first.")),
    ],
    check_specs=[
        dg.AssetCheckSpec("adjudicated_labels_schema", asset=LABELS, blocking=True,
                          description="labels match the AdjudicatedLabel Pandera model"),
        dg.AssetCheckSpec("review_queue_schema", asset=REVIEW, blocking=True,
                          description="the queue matches the ReviewItem Pandera model"),
    ],
    partitions_def=source_partitions,
)  # fmt: skip
def adjudicated_labels(context: dg.AssetExecutionContext, project: ProjectResource, lineage: LineageResource):
    manifest = project.manifest(context.partition_key)
    if manifest.kind != "annotation":  # (in a run with annotation_agreement this step is skipped)
        note = _not_annotation(manifest)
        context.log.info(note)
        for key, check in ((LABELS, "adjudicated_labels_schema"), (REVIEW, "review_queue_schema")):
            yield dg.AssetCheckResult(check_name=check, asset_key=key, passed=True, metadata={"note": note})
        return
    proj = project.project
    label_config = proj.config.for_stage("adjudicated_labels")
    review_config = proj.config.for_stage("review_queue")
    labels_path, queue_path = proj.stage_path(LABELS.path[-1], manifest.id), proj.stage_path(REVIEW.path[-1], manifest.id)
    with lineage.materialization(context, inputs=[proj.stage_path(INPUT_STAGE, manifest.id)]) as run:
        tasks: list[TaskLabels] = [adjudicate(manifest.id, j, label_config) for j in _judgements(project, manifest)]
        labels = pa.concat_tables([t.table for t in tasks]) if tasks else LABEL_SCHEMA.empty_table()
        queue = review_queue(manifest.id, tasks, review_config)
        write_parquet(labels_path, labels)
        write_parquet(queue_path, queue)
        checks = [schema_check_result(validate_file(labels_path, AdjudicatedLabel), "adjudicated_labels_schema", LABELS),
                  schema_check_result(validate_file(queue_path, ReviewItem), "review_queue_schema", REVIEW)]  # fmt: skip
        hashes = dvc_track(proj, LABELS.path[-1], manifest.id)  # one DVC stage per op: labels + queue
        versions = hashes[labels_path.relative_to(proj.root).as_posix()], hashes[queue_path.relative_to(proj.root).as_posix()]
        run.output(labels_path, asset_key=LABELS, model=AdjudicatedLabel, version=versions[0], rows=labels.num_rows,
                   licence_mix={manifest.license: labels.num_rows})  # fmt: skip
        run.output(queue_path, asset_key=REVIEW, model=ReviewItem, version=versions[1], rows=queue.num_rows,
                   licence_mix=False)  # fmt: skip
        run.checks(labels_path, checks[:1])
        run.checks(queue_path, checks[1:])
    yield from _label_results(manifest, tasks, labels, labels_path, versions[0])
    yield from _queue_results(manifest, queue, queue_path, versions[1], review_config)
    yield from checks


def _label_results(manifest, tasks: list[TaskLabels], labels: pa.Table, path, version: str):
    rows, per_task = [], []
    for t in tasks:
        j = t.judgements
        if t.model is None:
            per_task.append(f"| {j.task} | {j.n_items} | mean | - | - | - |")
            continue
        assert t.majority is not None
        mv, _ = t.majority
        same = float((mv == t.model.label).mean()) if j.n_items else 1.0
        weights = np.bincount(j.annotator, minlength=j.n_annotators).astype(float)
        accuracy = np.einsum("k,jkk->j", t.model.prior, t.model.confusion)  # P(annotator right), by DS
        rows += [{"task": j.task, "annotator_id": a, "judgements": int(w), "ds_accuracy": float(acc)}
                 for a, w, acc in zip(j.annotators.tolist(), weights, accuracy, strict=True)]  # fmt: skip
        per_task.append(f"| {j.task} | {j.n_items} | {same:.3f} | {t.model.iterations} | "
                        f"{'yes' if t.model.converged else 'no'} | {float(np.mean(t.model.confidence)):.3f} |")  # fmt: skip
    ds = labels.filter(pc.equal(labels["method"], "dawid-skene")) if labels.num_rows else labels
    confidence = ds["confidence"].to_numpy(zero_copy_only=False).astype(float) if ds.num_rows else np.array([])
    accuracy_table = pa.Table.from_pylist(sorted(rows, key=lambda r: r["ds_accuracy"])) if rows else None
    md = "\n\n".join([
        f"### Labels of `{manifest.id}`: {len(tasks)} task(s), {labels.num_rows} label rows",
        "| task | items | majority = Dawid-Skene | EM iterations | converged | mean posterior |\n"
        "|---|---:|---:|---:|---|---:|\n" + "\n".join(per_task),
        svg_markdown(histogram_svg(confidence, title="Dawid-Skene posterior of the chosen label", xlabel="posterior",
                                   bins=25), "posterior"),
        ("**Least reliable annotators by Dawid-Skene** (P(right) = sum_k prior_k * confusion_kk)\n\n"
         "| task | annotator | judgements | P(right) |\n|---|---|---:|---:|\n"
         + "\n".join(f"| {r['task']} | {r['annotator_id']} | {r['judgements']} | {r['ds_accuracy']:.3f} |"
                     for r in (accuracy_table.slice(0, 15).to_pylist() if accuracy_table is not None else [])))
        if accuracy_table is not None else "",
    ])  # fmt: skip
    methods = dict(zip(*np.unique(labels["method"].to_numpy(zero_copy_only=False), return_counts=True), strict=True)) if labels.num_rows else {}
    metadata = {
        "applies": True,
        "dagster/row_count": labels.num_rows,
        "dagster/column_schema": column_schema(AdjudicatedLabel),
        "path": dg.MetadataValue.path(str(path)),
        "items": int(sum(t.judgements.n_items for t in tasks)),
        "rows_by_method": counts_table({str(k): int(v) for k, v in methods.items()}, key="method"),
        "mean_ds_posterior": float(confidence.mean()) if confidence.size else float("nan"),
        "report": dg.MetadataValue.md(md),
    }
    if accuracy_table is not None:
        metadata["annotator_accuracy_ds"] = _table_value(accuracy_table, {"task": "string", "annotator_id": "string",
                                                                          "judgements": "int", "ds_accuracy": "float"})
    yield dg.MaterializeResult(asset_key=LABELS, data_version=dg.DataVersion(version), metadata=metadata)


def _queue_results(manifest, queue: pa.Table, path, version: str, config: ReviewConfig):
    reasons = dict(zip(*np.unique(queue["reason"].to_numpy(zero_copy_only=False), return_counts=True), strict=True)) if queue.num_rows else {}
    gain = queue["expected_gain"].to_numpy() if queue.num_rows else np.array([])
    md = "\n\n".join([
        f"### Review queue of `{manifest.id}`: {queue.num_rows} item(s)",
        "Ordered by the expected gain of one more judgement (see `curaline.annotation.review`): "
        f"queued when the posterior is under {config.max_confidence}, the majority under "
        f"{config.min_majority_share:.2f}, or the two methods disagree.",
        svg_markdown(histogram_svg(gain, title="expected gain of one more judgement", xlabel="gain", bins=25), "gain"),
    ])  # fmt: skip
    yield dg.MaterializeResult(
        asset_key=REVIEW,
        data_version=dg.DataVersion(version),
        metadata={
            "applies": True,
            "dagster/row_count": queue.num_rows,
            "dagster/column_schema": column_schema(ReviewItem),
            "path": dg.MetadataValue.path(str(path)),
            "by_reason": counts_table({str(k): int(v) for k, v in reasons.items()}),
            "top_of_queue": _table_value(queue, {"priority": "int", "task": "string", "item_id": "string",
                                                 "label": "string", "confidence": "float", "majority_label": "string",
                                                 "majority_share": "float", "n_judgements": "int",
                                                 "expected_gain": "float", "reason": "string"}, limit=50),
            "report": dg.MetadataValue.md(md),
        },
    )  # fmt: skip


#: the annotation assets, for definitions.py (per-source: partitioned by source)
ANNOTATION_ASSETS = [annotation_agreement, adjudicated_labels]
