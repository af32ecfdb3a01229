"""Settings as data: every setting has a default, an environment variable and a help line.

The README's settings table is generated from SETTINGS (tests/unit/test_settings.py fails when the
two drift apart).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEMO_CITY = ROOT / "citypacks" / "beijing"


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: object
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("city", "CITYBRAIN_CITY", str(DEMO_CITY), "City pack folder (default: the built-in Beijing demo pack)."),
    Setting("data_dir", "CITYBRAIN_DATA_DIR", str(ROOT / "var"), "Where the DuckDB file, caches and briefings live."),
    Setting("host", "HOST", "127.0.0.1", "Interface the console listens on."),
    Setting("port", "PORT", 8050, "Port the console listens on."),
    Setting("redis_url", "REDIS_URL", "", "Redis for feeds (Streams) and data-version push; empty = embedded, in-process bus."),
    Setting("simulate", "CITYBRAIN_SIMULATE", True, "Run the live feed simulator inside `serve` (demo mode)."),
    Setting("simulate_interval_s", "CITYBRAIN_SIMULATE_INTERVAL_S", 2.0, "Seconds between simulator batches."),
    Setting("history_days", "CITYBRAIN_HISTORY_DAYS", 35, "Days of simulated history written on first start of an empty store."),
    Setting("feed_amber_s", "CITYBRAIN_FEED_AMBER_S", 120, "A feed with no new record for this many seconds shows amber."),
    Setting("feed_red_s", "CITYBRAIN_FEED_RED_S", 600, "A feed with no new record for this many seconds shows red."),
    Setting("case_feed_amber_s", "CITYBRAIN_CASE_FEED_AMBER_S", 1800, "The cases feed (irregular by nature) shows amber after this many seconds without a new case."),
    Setting("case_feed_red_s", "CITYBRAIN_CASE_FEED_RED_S", 7200, "The cases feed shows red after this many seconds without a new case."),
    Setting("case_index_days", "CITYBRAIN_CASE_INDEX_DAYS", 70, "Days of case facts the in-memory case index holds (indicators/caseindex.py; about 56 bytes per case); windows starting earlier are computed by DuckDB. 0 = off."),
    Setting("time_min_year", "CITYBRAIN_TIME_MIN_YEAR", 1970, "Earliest year of a time a record may carry (UTC) or a query may ask about; older times are quarantined (records) or answered 400 (query parameters)."),
    Setting("time_max_year", "CITYBRAIN_TIME_MAX_YEAR", 2100, "Latest year of a time a record may carry (UTC) or a query may ask about; later times are quarantined or answered 400."),
    Setting("alert_interval_s", "CITYBRAIN_ALERT_INTERVAL_S", 30, "Seconds between evaluations of the early-warning rules in `serve` (0 = off)."),
    Setting("view_interval_s", "CITYBRAIN_VIEW_INTERVAL_S", 1.0, "With several processes: the writer publishes the data version to the web workers at most this often (the newest always), so each console view is computed at most once per interval for all of them."),
    Setting("poll_ms", "CITYBRAIN_POLL_MS", 2000, "How often an open console checks the data version (one light request)."),
    Setting("demo", "CITYBRAIN_DEMO", False, "Demo mode (`make run`): demo users per role printed at start; visitors not signed in see the read-only wall view."),
    Setting("session_hours", "CITYBRAIN_SESSION_HOURS", 12, "A console session expires this many hours after login."),
    Setting("login_attempts_per_min", "CITYBRAIN_LOGIN_ATTEMPTS_PER_MIN", 10, "Login attempts allowed per minute from one address (then 429)."),
    Setting("login_attempts_per_account_per_min", "CITYBRAIN_LOGIN_ATTEMPTS_PER_ACCOUNT_PER_MIN", 10, "Login attempts allowed per minute for one user name, from any address (then 429). Like the two other login limits, counted in each web process; five failures in a row lock the account for 15 minutes in every process. 0 = no limit."),
    Setting("login_attempts_overall_per_min", "CITYBRAIN_LOGIN_ATTEMPTS_OVERALL_PER_MIN", 120, "Login attempts allowed per minute in one web process, all addresses and names together (then 429): bounds the password-hashing work guessing can cause (one argon2 check costs about 0.2 CPU-seconds). 0 = no limit."),
    Setting("trusted_user_header", "CITYBRAIN_TRUSTED_USER_HEADER", "", "SSO behind an authenticating proxy: the header naming the signed-in user (e.g. X-Remote-User); empty = off. Only behind a proxy that strips it from clients."),
    Setting("cookie_secure", "CITYBRAIN_COOKIE_SECURE", False, "Send session cookies over HTTPS only (set behind a TLS proxy)."),
    Setting("log_level", "CITYBRAIN_LOG_LEVEL", "INFO", "Python logging level."),
    Setting("webhook_max_attempts", "CITYBRAIN_WEBHOOK_MAX_ATTEMPTS", 8, "Attempts per department webhook delivery before it is marked failed."),
    Setting("webhook_backoff_s", "CITYBRAIN_WEBHOOK_BACKOFF_S", 2.0, "Seconds before the first webhook retry; doubles after each failed attempt."),
    Setting("webhook_backoff_max_s", "CITYBRAIN_WEBHOOK_BACKOFF_MAX_S", 600.0, "Longest wait between two webhook attempts."),
    Setting("webhook_timeout_s", "CITYBRAIN_WEBHOOK_TIMEOUT_S", 5.0, "Seconds a webhook receiver has to answer one POST."),
    Setting("open311_public_sources", "CITYBRAIN_OPEN311_PUBLIC_SOURCES", "open311", "Case sources (channels) whose cases the public Open311 `requests.json` lists, comma-separated; `*` = every source, empty = none, `-x` excludes x. Default: only requests filed through Open311 itself (hotline, grid inspector and other internal channels stay private)."),
    Setting("open311_public_categories", "CITYBRAIN_OPEN311_PUBLIC_CATEGORIES", "*", "Categories the public Open311 reads list (comma-separated ids; `*` = all, empty = none, `-x` excludes x, e.g. `*,-vulnerable_person`)."),
    Setting("open311_public_text", "CITYBRAIN_OPEN311_PUBLIC_TEXT", False, "Public Open311 reads show each request's free-text description and address (they may hold names, phone numbers, house numbers); off = both null. Coordinates are always rounded to 3 decimals (about 100 m)."),
    Setting("open311_posts_per_address_per_hour", "CITYBRAIN_OPEN311_POSTS_PER_ADDRESS_PER_HOUR", 20, "Open311 POSTs (accepted or rejected) allowed per client address in any hour; beyond: 429 with Retry-After. 0 = no limit."),
    Setting("open311_posts_per_min", "CITYBRAIN_OPEN311_POSTS_PER_MIN", 60, "Open311 POSTs allowed from all clients together in any minute; beyond: 429 with Retry-After. 0 = no limit."),
    Setting("import_max_mb", "CITYBRAIN_IMPORT_MAX_MB", 2048, "Largest file `ingest` accepts (MB); a larger file is refused before anything is stored. 0 = no limit."),
    Setting("import_max_json_mb", "CITYBRAIN_IMPORT_MAX_JSON_MB", 100, "Largest plain `.json` document `ingest` accepts (MB): it is parsed whole (about ten times its size in memory); CSV, JSON Lines and Parquet are streamed in chunks."),
    Setting("import_chunk_rows", "CITYBRAIN_IMPORT_CHUNK_ROWS", 100000, "Rows per chunk when `ingest` streams a file (memory stays bounded by the chunk, not the file)."),
)


def _coerce(raw: str, default: object) -> object:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


@dataclass(frozen=True)
class Settings:
    city: Path
    data_dir: Path
    host: str
    port: int
    redis_url: str
    simulate: bool
    simulate_interval_s: float
    history_days: int
    feed_amber_s: int
    feed_red_s: int
    case_feed_amber_s: int
    case_feed_red_s: int
    case_index_days: int
    time_min_year: int
    time_max_year: int
    alert_interval_s: int
    view_interval_s: float
    poll_ms: int
    demo: bool
    session_hours: int
    login_attempts_per_min: int
    login_attempts_per_account_per_min: int
    login_attempts_overall_per_min: int
    trusted_user_header: str
    cookie_secure: bool
    log_level: str
    webhook_max_attempts: int
    webhook_backoff_s: float
    webhook_backoff_max_s: float
    webhook_timeout_s: float
    open311_public_sources: str
    open311_public_categories: str
    open311_public_text: bool
    open311_posts_per_address_per_hour: int
    open311_posts_per_min: int
    import_max_mb: int
    import_max_json_mb: int
    import_chunk_rows: int

    @classmethod
    def load(cls, env: dict | None = None, **overrides) -> "Settings":
        """Defaults, then environment, then explicit overrides (e.g. CLI flags); None means 'not given'."""
        env = os.environ if env is None else env
        values = {}
        for setting in SETTINGS:
            value = setting.default
            if env.get(setting.env, "") != "":
                value = _coerce(env[setting.env], setting.default)
            if overrides.get(setting.name) is not None:
                value = overrides[setting.name]
            values[setting.name] = value
        values["city"] = Path(values["city"]).resolve()
        values["data_dir"] = Path(values["data_dir"]).resolve()
        return cls(**values)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "citybrain.duckdb"


def settings_table_markdown() -> str:
    lines = ["| setting | environment variable | default | what it does |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = s.default
        if s.name == "city":
            default = "citypacks/beijing"
        elif s.name == "data_dir":
            default = "var/"
        lines.append(f"| `{s.name}` | `{s.env}` | `{default}` | {s.help} |")
    return "\n".join(lines)


assert {f.name for f in fields(Settings)} == {s.name for s in SETTINGS}
