"""Nothing is lost: quarantined records can be re-processed after a fix, from the CLI."""
import json

import pandas as pd

from tests.conftest import NYC, run_cli


def run(*args, data_dir):
    done = run_cli(*args, "--city", NYC, "--data-dir", data_dir)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_a_mapping_fix_recovers_quarantined_records(tmp_path, nyc):
    source = tmp_path / "cases.csv"
    pd.DataFrame({
        "id": ["a", "b", "c"],
        "opened": ["02/01/2025 10:00", "02/01/2025 11:00", "not a date"],
        "type": ["Noise - Residential", "Dead Animal", "Dead Animal"],
    }).to_csv(source, index=False)
    broken = tmp_path / "broken.toml"  # forgot the date format: day/month read ISO-wise fails
    broken.write_text('[fields]\ncase_id = "id"\nreported_at = "opened"\ncategory = "type"\n[formats]\nreported_at = "%Y-%m-%d"\n')
    data = tmp_path / "data"
    summary = json.loads(run("ingest", "cases", str(source), "--mapping", str(broken), data_dir=data)[-1])
    assert summary["accepted"] == 0 and summary["quarantined"] == 3
    listed = [json.loads(line) for line in run("quarantine", "list", data_dir=data)]
    assert sum(row["records"] for row in listed) == 3 and listed[0]["feed"] == "cases"
    fixed = tmp_path / "fixed.toml"
    fixed.write_text(broken.read_text().replace("%Y-%m-%d", "%m/%d/%Y %H:%M"))
    result = json.loads(run("quarantine", "reprocess", "cases", "--mapping", str(fixed), data_dir=data)[-1])
    assert result["reprocessed"] == 2 and result["accepted"] == 2 and result["quarantined"] == 1
    listed = [json.loads(line) for line in run("quarantine", "list", data_dir=data)]
    assert [(row["reason"], row["records"]) for row in listed] == [("bad reported_at not a date", 1)]
