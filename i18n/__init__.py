"""Message catalog (zh/en) and locale-aware formatting (Babel). Labels live here, not in code."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from babel.dates import format_datetime
from babel.numbers import format_decimal

LANGS = ("zh", "en")
LOCALES = {"zh": "zh_CN", "en": "en_US"}

MESSAGES: dict[str, dict[str, str]] = {
    "app.title": {"zh": "城市大脑 · 指挥中心", "en": "CityBrain · Command Center"},
    "nav.city": {"zh": "全市", "en": "City"},
    "nav.switch_lang": {"zh": "English", "en": "中文"},
    "feed.cases": {"zh": "案件", "en": "Cases"},
    "feed.sensors": {"zh": "感知", "en": "Sensors"},
    "feed.services": {"zh": "政务", "en": "Services"},
    "feed.devices": {"zh": "设备", "en": "Devices"},
    "feed.halls": {"zh": "大厅", "en": "Halls"},
    "feed.never": {"zh": "无数据", "en": "no data"},
    "feed.age": {"zh": "{age}前", "en": "{age} ago"},
    "feed.state.ok": {"zh": "正常", "en": "live"},
    "feed.state.amber": {"zh": "延迟", "en": "late"},
    "feed.state.red": {"zh": "中断", "en": "stalled"},
    "metric.open_cases": {"zh": "在办案件", "en": "Open cases"},
    "metric.overdue_cases": {"zh": "超期未结", "en": "Overdue open"},
    "map.legend.open_cases": {"zh": "在办案件数", "en": "Open cases"},
    "list.ranking": {"zh": "{level}排名 · 在办案件", "en": "{level} ranking · open cases"},
    "list.unit": {"zh": "单元", "en": "Unit"},
    "unit.not_found": {"zh": "未找到该单元", "en": "Unit not found"},
    "unit.children": {"zh": "下辖{level}", "en": "{level}s within"},
    "unit.scorecard": {"zh": "指标卡", "en": "Scorecard"},
    "unit.no_children": {"zh": "这是最细一级单元。", "en": "This is the finest level."},
    "feeds.title": {"zh": "数据源健康", "en": "Feed health"},
    "feeds.col.feed": {"zh": "数据源", "en": "Feed"},
    "feeds.col.state": {"zh": "状态", "en": "State"},
    "feeds.col.newest": {"zh": "最新记录", "en": "Newest record"},
    "feeds.col.rate": {"zh": "每分钟", "en": "Per minute"},
    "feeds.col.total": {"zh": "累计", "en": "Total"},
    "feeds.col.quarantined": {"zh": "隔离", "en": "Quarantined"},
    "feeds.col.quarantine_rate": {"zh": "近1小时隔离率", "en": "Quarantined, last hour"},
    "quarantine.title": {"zh": "待处理的隔离记录", "en": "Quarantined records waiting for a fix"},
    "quarantine.col.reason": {"zh": "原因", "en": "Reason"},
    "quarantine.col.records": {"zh": "条数", "en": "Records"},
    "quarantine.col.last": {"zh": "最近", "en": "Last"},
    "quarantine.none": {"zh": "没有隔离记录", "en": "Nothing quarantined"},
    "user.sign_in": {"zh": "登录", "en": "Sign in"},
    "user.sign_out": {"zh": "退出", "en": "sign out"},
    "role.commander": {"zh": "指挥长", "en": "commander"},
    "role.district_leader": {"zh": "区领导", "en": "district leader"},
    "role.department": {"zh": "委办局", "en": "department"},
    "role.briefing": {"zh": "综合组", "en": "briefing"},
    "role.wall": {"zh": "大屏", "en": "wall"},
    "role.admin": {"zh": "管理员", "en": "admin"},
    "data.as_of": {"zh": "数据截至 {time}", "en": "Data as of {time}"},
    "data.version": {"zh": "数据版本 {version}", "en": "data version {version}"},
}


def t(key: str, lang: str, **values) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


def number(value, lang: str, digits: int = 0) -> str:
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=LOCALES.get(lang, "en_US"))


def local_time(value: dt.datetime | None, timezone: str, lang: str, fmt: str = "medium") -> str:
    """A naive-UTC timestamp shown in the city's zone and the user's language."""
    if value is None:
        return "–"
    aware = value.replace(tzinfo=dt.UTC).astimezone(zoneinfo.ZoneInfo(timezone))
    return format_datetime(aware, format=fmt, tzinfo=zoneinfo.ZoneInfo(timezone), locale=LOCALES.get(lang, "en_US"))


def duration(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "–"
    seconds = max(0, int(seconds))
    units = [(86400, "天", "d"), (3600, "小时", "h"), (60, "分", "min"), (1, "秒", "s")]
    for size, zh, en in units:
        if seconds >= size or size == 1:
            amount = seconds // size
            return f"{amount}{zh}" if lang == "zh" else f"{amount} {en}"
    return ""


def pick_lang(requested: str | None, default: str) -> str:
    return requested if requested in LANGS else (default if default in LANGS else "en")
