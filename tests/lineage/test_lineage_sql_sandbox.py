"""`curaline lineage sql` is read-only for real: every known attack is refused, the ledger is untouched.

Each attack was seen to work on the unsandboxed connection (issue 17): EXPLAIN ANALYZE COPY
wrote over a ledger file, read_csv/read_text/read_blob/glob read any file, an https URL
made DuckDB fetch httpfs from the network.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from lineage_fixtures import make_project, run_pipeline_with_lineage

from curaline.lineage.cli import lineage
from curaline.lineage.emitter import LineageEmitter
from curaline.lineage.sandbox import ReadOnlyQueryError, check_query, sandboxed_connection
from curaline.lineage.views import ledger_files
from curaline.project import Project
from curaline.sources import catalog_table, load_manifests
from curaline.store import write_parquet


@pytest.fixture(scope="module")
def curated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("sandbox")
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("OPENLINEAGE"):
                mp.delenv(key)
        mp.chdir(root)
        mp.setenv("HOME", str(root))
        project = make_project(root / "proj")
        manifests, _ = load_manifests(project.sources_dir)
        write_parquet(project.stage_path("source_catalog"), catalog_table(manifests, project.root))
        run_pipeline_with_lineage(project, LineageEmitter(project))
        (root / "secret.txt").write_text("top secret\n")
        (root / "outside.csv").write_text("a,b\n1,2\n")
        yield project


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}  # fmt: skip


def cli(project: Project, *args: str) -> Result:
    return CliRunner().invoke(lineage, [*args, "--project", str(project.root)])


def _attacks(project: Project) -> list[str]:
    ledger = ledger_files(project)[0]
    outside = project.root.parent
    return [
        f"COPY (SELECT * FROM ledger WHERE false) TO '{ledger}' (FORMAT parquet)",
        f"EXPLAIN ANALYZE COPY (SELECT * FROM ledger WHERE false) TO '{ledger}' (FORMAT parquet)",
        f"EXPLAIN COPY (SELECT 1) TO '{project.lineage_dir}/x.parquet'",
        "SELECT * FROM read_csv('/etc/passwd')",
        f"SELECT * FROM read_csv('{outside}/outside.csv')",
        f"SELECT * FROM read_text('{outside}/secret.txt')",
        "SELECT * FROM read_blob('/etc/shadow')",
        "SELECT * FROM glob('/root/*')",
        f"SELECT * FROM glob('{project.lineage_dir}/**')",
        "SELECT * FROM 'https://example.com/data.csv'",
        "SELECT * FROM read_parquet('https://example.com/x.parquet')",
        f"SELECT * FROM '{outside}/outside.csv'",
        f"SELECT * FROM read_parquet('{ledger}')",
        f"SELECT text FROM read_parquet('{project.data_dir}/raw_records/*.parquet')",
        f"SELECT count(*) FROM ledger WHERE doc_id IN (SELECT column0 FROM read_csv('{outside}/outside.csv'))",
        f"WITH x AS (SELECT * FROM read_text('{outside}/secret.txt')) SELECT * FROM x",
        f"SELECT * FROM read_parquet('{project.lineage_dir}/../../outside.parquet')",
        "SELECT * FROM query('SELECT 1')",
        "SELECT * FROM pragma_version()",
        f"ATTACH '{outside}/evil.duckdb' AS evil",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA enable_profiling",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "CALL pragma_version()",
        f"SELECT 1; COPY (SELECT 1) TO '{project.lineage_dir}/y.parquet'",
        "SELECT 1; DROP VIEW ledger",
        "CREATE TABLE t AS SELECT 1",
        "DELETE FROM ledger",
        "CHECKPOINT",
        f"EXPORT DATABASE '{outside}/dump'",
    ]


def test_every_attack_is_refused_in_one_line_and_changes_nothing(curated: Project) -> None:
    outside = curated.root.parent
    before = _snapshot(outside)
    for attack in _attacks(curated):
        result = cli(curated, "sql", attack)
        assert result.exit_code == 2, (attack, result.output)
        assert len(result.stderr.splitlines()) == 1, (attack, result.stderr)
        assert result.stdout == "", (attack, result.stdout)
        assert "top secret" not in result.output and "root:" not in result.output
    assert _snapshot(outside) == before  # the ledger, the data, the events: byte for byte


def test_plain_queries_still_answer(curated: Project) -> None:
    for query in ("SELECT count(*) AS n FROM ledger", "DESCRIBE ledger", "SHOW TABLES", "FROM records LIMIT 1",
                  "WITH d AS (SELECT doc_id FROM ledger) SELECT count(*) FROM d, range(2) r",
                  "SELECT count(*) FROM quality_filtered WHERE doc_id IN (SELECT doc_id FROM records)"):  # fmt: skip
        result = cli(curated, "sql", query)
        assert result.exit_code == 0, (query, result.output)


def test_the_connection_itself_cannot_reach_outside_even_without_the_statement_check(tmp_path: Path) -> None:
    allowed = tmp_path / "lineage"
    allowed.mkdir()
    (tmp_path / "secret.csv").write_text("a\n1\n")
    con = sandboxed_connection([allowed])
    import duckdb

    for attack in (f"SELECT * FROM read_csv('{tmp_path}/secret.csv')", "SELECT * FROM read_text('/etc/hostname')",
                   "INSTALL httpfs", "LOAD httpfs", "SET enable_external_access = true", "SET allowed_directories = ['/']",
                   f"ATTACH '{tmp_path}/x.duckdb'"):  # fmt: skip
        with pytest.raises(duckdb.Error):
            con.execute(attack).fetchall()
    with pytest.raises(ReadOnlyQueryError, match="table function read_csv"):
        check_query(con, "SELECT * FROM read_csv('x')", [])
