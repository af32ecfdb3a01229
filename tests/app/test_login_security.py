"""Issue #20 (items 2, 3) in one process: the lockout holds against parallel guesses from several
addresses, one message for every failed login, failed logins audited, login limits per account and
overall, and sessions that end on logout, password change and revocation."""
import re
import threading

import pytest

import i18n
from security import tokens, users
from security.users import MAX_FAILED_LOGINS, add_user
from tests.conftest import run_threads

PASSWORD = "correct horse battery"
ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")


def make_app(tmp_path, **limits):
    from app import create_app
    from datasources.runtime import open_runtime
    from settings import Settings

    settings = Settings.load(env={}, data_dir=tmp_path, history_days=0, demo=False, **{
        "login_attempts_per_min": 10_000, "login_attempts_per_account_per_min": 10_000,
        "login_attempts_overall_per_min": 10_000, **limits})
    runtime = open_runtime(settings, simulate=False)
    return create_app(runtime), runtime


@pytest.fixture
def secured(tmp_path):
    app, runtime = make_app(tmp_path)
    add_user(runtime.store, runtime.pack, "duty", "commander", [], PASSWORD)
    yield app, runtime
    runtime.close()


def login(app, name, password, address="127.0.0.1", lang="en"):
    client = app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    page = client.get(f"/login?lang={lang}")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"name": name, "password": password, "csrf": csrf, "next": "/", "lang": lang})
    return client, response


def error_of(response) -> str:
    found = re.search(r'<p class="login-error" role="alert">([^<]*)</p>', response.get_data(as_text=True))
    return found.group(1) if found else ""


def audit_rows(runtime, action):
    return runtime.store.cursor().execute(
        "select actor, detail, origin from audit where action = ? order by audit_id", [action]).fetchall()


def test_parallel_guesses_from_four_addresses_lock_the_account(secured):
    app, runtime = secured
    barrier = threading.Barrier(40)
    codes = []

    def guess(i):
        barrier.wait()
        codes.append(login(app, "duty", f"wrong guess {i}", ADDRESSES[i % 4])[1].status_code)

    run_threads(guess, 40)
    assert codes == [401] * 40
    failed, locked_until = runtime.store.cursor().execute(
        "select failed_logins, locked_until from users where name = 'duty'").fetchall()[0]
    assert failed == 40 and locked_until is not None  # every guess counted, none overwritten
    audited = audit_rows(runtime, "login_failed")
    assert len(audited) == 40 and {origin for _, _, origin in audited} == set(ADDRESSES)
    assert sum("locked" in detail for _, detail, _ in audited) == 40 - MAX_FAILED_LOGINS + 1
    # the right password while locked: refused, with exactly the message an unknown name gets
    for lang in ("en", "zh"):
        _, right = login(app, "duty", PASSWORD, lang=lang)
        _, unknown = login(app, "nobody-here", PASSWORD, lang=lang)
        assert right.status_code == unknown.status_code == 401
        assert error_of(right) == error_of(unknown) == i18n.t("login.failed", lang)
    assert audit_rows(runtime, "login") == []
    assert ("duty", "locked or disabled", "127.0.0.1") in audit_rows(runtime, "login_failed")


def test_one_message_for_wrong_name_wrong_password_locked_and_disabled(secured):
    app, runtime = secured
    add_user(runtime.store, runtime.pack, "gone", "wall", [], PASSWORD)
    users.disable_user(runtime.store, "gone")
    for lang in ("zh", "en"):
        messages = {error_of(login(app, name, password, lang=lang)[1])
                    for name, password in (("duty", "not the password"), ("nobody", PASSWORD), ("gone", PASSWORD))}
        assert messages == {i18n.t("login.failed", lang)}
    assert i18n.t("login.failed", "zh") != i18n.t("login.failed", "en")
    client, ok = login(app, "duty", PASSWORD)  # two failures then the right password: in, count reset
    assert ok.status_code == 302 and client.get("/account/session").get_json()["name"] == "duty"
    assert runtime.store.cursor().execute("select failed_logins from users where name = 'duty'").fetchall() == [(0,)]
    actors = [actor for actor, _, _ in audit_rows(runtime, "login_failed")]
    assert actors.count("nobody") == 2 and actors.count("gone") == 2 and actors.count("duty") == 2


def test_login_limits_per_account_and_overall(tmp_path):
    app, runtime = make_app(tmp_path, login_attempts_per_account_per_min=3, login_attempts_overall_per_min=6)
    try:
        # one name from four addresses: the account's limit holds whatever the address
        codes = [login(app, "target", "guess guess", ADDRESSES[i % 4])[1].status_code for i in range(4)]
        assert codes == [401, 401, 401, 429]
        _, limited = login(app, "TARGET", "guess guess", "127.0.0.9")
        assert limited.status_code == 429 and error_of(limited) == i18n.t("login.too_many", "en")
        # other names: allowed until the process-wide limit (6 allowed in all)
        codes = [login(app, f"other-{i}", "guess guess", f"127.0.1.{i}")[1].status_code for i in range(4)]
        assert codes == [401, 401, 401, 429]
    finally:
        runtime.close()


def test_logout_ends_the_session_server_side(secured):
    app, runtime = secured
    client, _ = login(app, "duty", PASSWORD)
    other, _ = login(app, "duty", PASSWORD)
    stolen = client.get_cookie("citybrain_session").value
    assert client.get("/account/session").status_code == 200
    assert client.get("/logout").status_code == 302
    replay = app.server.test_client()
    replay.set_cookie("citybrain_session", stolen)
    assert replay.get("/").status_code == 302 and "/login" in replay.get("/").headers["Location"]
    assert other.get("/account/session").status_code == 302  # the user's other sessions end too
    fresh, _ = login(app, "duty", PASSWORD)
    assert fresh.get("/account/session").get_json()["name"] == "duty"


def test_a_forged_cross_site_logout_ends_no_session(secured):
    app, _ = secured
    client, _ = login(app, "duty", PASSWORD)
    other, _ = login(app, "duty", PASSWORD)
    assert client.get("/logout", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 302
    assert other.get("/account/session").status_code == 200


def test_password_change_ends_the_other_sessions(secured):
    app, runtime = secured
    here, _ = login(app, "duty", PASSWORD)
    elsewhere, _ = login(app, "duty", PASSWORD)
    page = here.get("/account/password?lang=zh")
    assert page.status_code == 200 and i18n.t("account.password_title", "zh") in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    wrong = here.post("/account/password", data={"csrf": csrf, "current_password": "not it", "new_password": "a new password 1"})
    assert wrong.status_code == 401 and elsewhere.get("/account/session").status_code == 200
    forged = here.post("/account/password", data={"csrf": "forged", "current_password": PASSWORD, "new_password": "x" * 12})
    assert forged.status_code == 403
    changed = here.post("/account/password", data={"csrf": csrf, "current_password": PASSWORD,
                                                    "new_password": "a new password 1", "lang": "en"})
    assert changed.status_code == 200 and i18n.t("account.password_changed", "en") in changed.get_data(as_text=True)
    assert here.get("/account/session").get_json()["name"] == "duty"  # this session continues
    assert elsewhere.get("/account/session").status_code == 302  # the other one ended
    assert login(app, "duty", PASSWORD)[1].status_code == 401
    assert login(app, "duty", "a new password 1")[1].status_code == 302
    assert [actor for actor, _, _ in audit_rows(runtime, "password_changed")] == ["duty"]


def test_revoking_one_token_or_a_user(secured):
    app, runtime = secured
    first, second = (tokens.issue_token(runtime.store, "duty", "commander") for _ in range(2))
    session, _ = login(app, "duty", PASSWORD)
    api = app.server.test_client()

    def status(token):
        return api.get("/api/v1/audit", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(first) == status(second) == 200
    assert tokens.revoke(runtime.store, first) == {"holders": ["duty"], "tokens": 1, "sessions_ended": False}
    assert (status(first), status(second)) == (401, 200)
    assert session.get("/account/session").status_code == 200  # revoking one token leaves sessions alone
    assert tokens.revoke(runtime.store, "duty") == {"holders": ["duty"], "tokens": 1, "sessions_ended": True}
    assert status(second) == 401 and session.get("/account/session").status_code == 302
    assert tokens.revoke(runtime.store, "nobody-at-all")["holders"] == []
