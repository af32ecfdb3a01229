"""`python app.py webhooks ...` and `audit export` on a fresh data folder (real DuckDB file)."""
import csv
import io
import json

from tests.unit.test_users_cli import cli


def test_webhooks_add_list_disable_remove(tmp_path):
    added = cli("webhooks", "add", "chengguan", "http://127.0.0.1:9/hook", "--secret-stdin", data_dir=tmp_path,
                stdin="a-long-enough-secret-value\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip().splitlines()[-1] == "a-long-enough-secret-value"
    generated = cli("webhooks", "add", "shuiwu", "https://ops.example/hook", data_dir=tmp_path)
    assert generated.returncode == 0 and len(generated.stdout.strip().splitlines()[-1]) == 64
    assert cli("webhooks", "disable", "shuiwu", data_dir=tmp_path).returncode == 0
    listed = [json.loads(line) for line in cli("webhooks", "list", data_dir=tmp_path).stdout.splitlines()]
    assert [(w["department"], w["enabled"], w["pending"]) for w in listed] == [("chengguan", True, 0), ("shuiwu", False, 0)]
    assert "secret" not in json.dumps(listed)
    for bad, reason in ((("webhooks", "add", "nope", "http://x/h"), "unknown department"),
                        (("webhooks", "add", "chengguan", "ftp://x/h"), "http(s)"),
                        (("webhooks", "remove", "huanbao"), "no webhook"),
                        (("webhooks", "redeliver", "42"), "not failed")):
        result = cli(*bad, data_dir=tmp_path)
        assert result.returncode == 2 and reason in result.stderr, (bad, result.stderr)
    assert cli("webhooks", "remove", "chengguan", data_dir=tmp_path).returncode == 0
    listed = [json.loads(line) for line in cli("webhooks", "list", data_dir=tmp_path).stdout.splitlines()]
    assert [w["department"] for w in listed] == ["shuiwu"]
    assert cli("webhooks", "log", data_dir=tmp_path).stdout == ""


def test_audit_export_csv(tmp_path):
    from datasources.store import Store
    from security.users import audit

    store = Store(tmp_path / "citybrain.duckdb")
    audit(store, "zhang", "commander", "dispatch.create", target="DO-1", detail="说明, with a comma", origin="api")
    audit(store, "li", "commander", "login", detail="=HYPERLINK(\"http://evil\")", origin="console")
    store.close()
    out = tmp_path / "audit.csv"
    result = cli("audit", "export", "--since", "2020-01-01", "--out", str(out), data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    header = out.read_text(encoding="utf-8").splitlines()[0]
    assert [(r["actor"], r["action"], r["target"]) for r in rows] == [("zhang", "dispatch.create", "DO-1"), ("li", "login", "")]
    assert rows[0]["detail"] == "说明, with a comma" and rows[1]["detail"] == "'=HYPERLINK(\"http://evil\")"
    assert header == "audit_id,at_utc,actor,role,action,target,detail,origin"
    to_stdout = cli("audit", "export", data_dir=tmp_path)
    assert to_stdout.returncode == 0 and to_stdout.stdout.splitlines()[0] == header
    assert len(to_stdout.stdout.splitlines()) == len(rows) + 1 == 3
    assert cli("audit", "export", "--since", "nope", data_dir=tmp_path).returncode == 2
