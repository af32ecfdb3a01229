import json

from tests.conftest import run_cli


def cli(*args, data_dir, stdin=""):
    """`python app.py ARGS --data-dir DATA_DIR`, run in this process."""
    return run_cli(*args, "--data-dir", data_dir, stdin=stdin)


def test_users_add_list_token(tmp_path):
    added = cli("users", "add", "zhang", "--role", "district_leader", "--scope", "district:110105", "--password-stdin",
                data_dir=tmp_path, stdin="s3cret-passw0rd\n")
    assert added.returncode == 0, added.stderr
    bad = cli("users", "add", "li", "--role", "district_leader", "--scope", "district:999999", "--password-stdin",
              data_dir=tmp_path, stdin="s3cret-passw0rd\n")
    assert bad.returncode == 2 and "unknown district id" in bad.stderr
    short = cli("users", "add", "wu", "--role", "commander", "--password-stdin", data_dir=tmp_path, stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    listed = [json.loads(line) for line in cli("users", "list", data_dir=tmp_path).stdout.splitlines()]
    assert [(u["name"], u["role"], u["scopes"]) for u in listed] == [("zhang", "district_leader", ["district:110105"])]
    assert "hash" not in json.dumps(listed)
    token = cli("users", "token", "zhang", data_dir=tmp_path)
    assert token.returncode == 0 and len(token.stdout.strip().splitlines()[-1]) > 30
    assert "role district_leader" in token.stderr
    revoked = cli("users", "revoke", "zhang", data_dir=tmp_path)
    assert revoked.returncode == 0 and "revoked 1 token(s)" in revoked.stdout
