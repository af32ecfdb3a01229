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
    "drill.title": {"zh": "{unit} · {indicator} · {part}：{count} 件", "en": "{unit} · {indicator} · {part}: {count} cases"},
    "drill.part.numerator": {"zh": "分子", "en": "numerator"},
    "drill.part.denominator": {"zh": "分母", "en": "denominator"},
    "drill.export": {"zh": "导出 CSV", "en": "Export CSV"},
    "case.title": {"zh": "案件", "en": "Case"},
    "case.not_found": {"zh": "未找到该案件（或不在您的权限范围内）", "en": "Case not found (or outside your scope)"},
    "case.timeline": {"zh": "办理过程", "en": "Timeline"},
    "case.orders": {"zh": "联动派遣单", "en": "Joint dispatch orders"},
    "case.no_orders": {"zh": "无", "en": "none"},
    "case.col.case_id": {"zh": "案件编号", "en": "Case"},
    "case.col.category_name": {"zh": "类别", "en": "Category"},
    "case.col.status": {"zh": "状态", "en": "Status"},
    "case.col.priority": {"zh": "优先级", "en": "Priority"},
    "case.col.department": {"zh": "责任部门", "en": "Department"},
    "case.col.reported_at": {"zh": "上报时间", "en": "Reported"},
    "case.col.due_at": {"zh": "办结时限", "en": "Due"},
    "case.col.closed_at": {"zh": "结案时间", "en": "Closed"},
    "case.col.overdue": {"zh": "超期", "en": "Overdue"},
    "case.col.address": {"zh": "地址", "en": "Address"},
    "case.col.reporter": {"zh": "反映人", "en": "Reporter"},
    "yes": {"zh": "是", "en": "yes"},
    "status.accepted": {"zh": "受理", "en": "accepted"},
    "status.registered": {"zh": "立案", "en": "registered"},
    "status.dispatched": {"zh": "派遣", "en": "dispatched"},
    "status.handled": {"zh": "处置", "en": "handled"},
    "status.verified": {"zh": "核查", "en": "verified"},
    "status.closed": {"zh": "结案", "en": "closed"},
    "status.returned": {"zh": "回退", "en": "returned"},
    "status.extended": {"zh": "延期", "en": "extended"},
    "status.reworked": {"zh": "返工", "en": "reworked"},
    "unit.window": {"zh": "近30天", "en": "last 30 days"},
    "briefings.title": {"zh": "简报", "en": "Briefings"},
    "briefings.generate": {"zh": "生成简报", "en": "Generate briefing"},
    "briefings.archive": {"zh": "已生成的简报", "en": "Archive"},
    "briefings.none": {"zh": "暂无简报", "en": "No briefings yet"},
    "briefings.denied": {"zh": "无权为该范围生成简报", "en": "You may not brief this scope"},
    "briefings.done": {"zh": "已生成简报 #{id}", "en": "Briefing #{id} ready"},
    "briefings.col.id": {"zh": "编号", "en": "#"},
    "briefings.col.template": {"zh": "类型", "en": "Template"},
    "briefings.col.scope": {"zh": "范围", "en": "Scope"},
    "briefings.col.period": {"zh": "时段", "en": "Period"},
    "briefings.col.created": {"zh": "生成时间", "en": "Generated"},
    "briefings.col.files": {"zh": "文件", "en": "Files"},
    "brief.template.daily": {"zh": "日报", "en": "Daily"},
    "brief.template.weekly": {"zh": "周报", "en": "Weekly"},
    "brief.template.incident": {"zh": "专报", "en": "Incident"},
    "nav.brief_this": {"zh": "生成简报", "en": "Brief this"},
    "data.as_of": {"zh": "数据截至 {time}", "en": "Data as of {time}"},
    "data.version": {"zh": "数据版本 {version}", "en": "data version {version}"},
    "wall.title": {"zh": "城市运行指挥大屏", "en": "City operations wall"},
    "wall.kpis": {"zh": "今日全市指标", "en": "Today · city-wide"},
    "wall.map": {"zh": "各区在办案件", "en": "Open cases by district"},
    "wall.alerts": {"zh": "异常提示", "en": "Alerts"},
    "wall.alert.feed": {"zh": "{feed}数据{state}：{age}无新记录", "en": "{feed} feed {state}: no new record for {age}"},
    "wall.alert.feed_never": {"zh": "{feed}数据中断：从未收到数据", "en": "{feed} feed stalled: nothing ever received"},
    "wall.alert.silent": {"zh": "{count}台设备超过{minutes}分钟无读数", "en": "{count} devices silent for over {minutes} min"},
    "wall.alert.overdue": {"zh": "{name}：超期未结 {count} 件", "en": "{name}: {count} overdue open cases"},
    "wall.alert.none": {"zh": "暂无异常", "en": "No anomalies"},
    "wall.dispatch": {"zh": "联动派遣", "en": "Joint dispatch"},
    "wall.dispatch.none": {"zh": "暂无进行中的派遣", "en": "No active orders"},
    "wall.offline": {"zh": "与服务器失去连接 · 画面数据截至 {time}", "en": "Connection to the server lost · figures as of {time}"},
    "wall.status.green": {"zh": "达标", "en": "on target"},
    "wall.status.amber": {"zh": "关注", "en": "watch"},
    "wall.status.red": {"zh": "告警", "en": "alert"},
    "wall.status.none": {"zh": "无数据", "en": "no data"},
    "wall.unit.cases": {"zh": "件", "en": "cases"},
    "wall.unit.ratio": {"zh": "%", "en": "%"},
    "wall.unit.ug/m3": {"zh": "μg/m³", "en": "μg/m³"},
    "wall.unit.min": {"zh": "分钟", "en": "min"},
    # Briefing packs (briefings/)
    "brief.title.daily": {"zh": "{place}城市运行日报", "en": "{place} Daily Operations Brief"},
    "brief.title.weekly": {"zh": "{place}城市运行周报", "en": "{place} Weekly Operations Brief"},
    "brief.title.incident": {"zh": "{place}城市运行专报", "en": "{place} Incident Brief"},
    "brief.issuer": {"zh": "{city}城市运行管理指挥中心", "en": "{city} City Operations Command Center"},
    "brief.internal": {"zh": "内部资料　注意保存", "en": "Internal — for official use"},
    "brief.scope": {"zh": "范围", "en": "Scope"},
    "brief.period": {"zh": "统计时段", "en": "Period"},
    "brief.generated": {"zh": "生成时间", "en": "Generated"},
    "brief.as_of": {"zh": "数据截至", "en": "Data as of"},
    "brief.number": {"zh": "第 {n} 号", "en": "No. {n}"},
    "brief.page.before": {"zh": "第 ", "en": "Page "},
    "brief.page.middle": {"zh": " 页 / 共 ", "en": " of "},
    "brief.page.after": {"zh": " 页", "en": ""},
    "brief.sec.summary": {"zh": "总体情况", "en": "Summary"},
    "brief.sec.kpis": {"zh": "主要指标", "en": "Key indicators"},
    "brief.sec.map": {"zh": "分布图：{indicator}", "en": "Map: {indicator}"},
    "brief.sec.trend": {"zh": "案件受理与结案趋势", "en": "Cases reported and closed"},
    "brief.sec.ranking": {"zh": "{level}排名（按{indicator}）", "en": "{level} ranking (by {indicator})"},
    "brief.sec.overdue": {"zh": "超期未结案件（前 {n} 件）", "en": "Overdue open cases (top {n})"},
    "brief.sec.air": {"zh": "空气质量与感知设备", "en": "Air quality and sensors"},
    "brief.sec.silent": {"zh": "静默设备（15 分钟内无数据）", "en": "Silent devices (no reading in 15 minutes)"},
    "brief.sec.waits": {"zh": "政务服务等候", "en": "Service hall waits"},
    "brief.col.indicator": {"zh": "指标", "en": "Indicator"},
    "brief.col.value": {"zh": "本期", "en": "This period"},
    "brief.col.previous": {"zh": "上期", "en": "Previous"},
    "brief.col.change": {"zh": "环比", "en": "Change"},
    "brief.col.status": {"zh": "状态", "en": "Status"},
    "brief.col.target": {"zh": "目标", "en": "Target"},
    "brief.col.rank": {"zh": "序号", "en": "#"},
    "brief.col.unit": {"zh": "单元", "en": "Unit"},
    "brief.col.case": {"zh": "案件编号", "en": "Case"},
    "brief.col.category": {"zh": "类别", "en": "Category"},
    "brief.col.reported": {"zh": "上报时间", "en": "Reported"},
    "brief.col.due": {"zh": "应结时间", "en": "Due"},
    "brief.col.hours_overdue": {"zh": "超期（小时）", "en": "Hours overdue"},
    "brief.col.device": {"zh": "设备", "en": "Device"},
    "brief.col.kind": {"zh": "类型", "en": "Kind"},
    "brief.col.last_seen": {"zh": "最后数据", "en": "Last reading"},
    "brief.col.reported_n": {"zh": "受理", "en": "Reported"},
    "brief.col.closed_n": {"zh": "结案", "en": "Closed"},
    "brief.status.green": {"zh": "正常", "en": "on target"},
    "brief.status.amber": {"zh": "关注", "en": "watch"},
    "brief.status.red": {"zh": "预警", "en": "alert"},
    "brief.status.none": {"zh": "无数据", "en": "no data"},
    "brief.none": {"zh": "无", "en": "None"},
    "brief.never": {"zh": "从未上报", "en": "never"},
    "brief.more": {"zh": "另有 {n} 项未列出", "en": "{n} more not listed"},
    "brief.unit.cases": {"zh": "件", "en": "cases"},
    "brief.unit.h": {"zh": "小时", "en": "h"},
    "brief.unit.ug/m3": {"zh": "μg/m³", "en": "μg/m³"},
    "brief.unit.device-hours": {"zh": "设备·小时", "en": "device-hours"},
    "brief.unit.min": {"zh": "分钟", "en": "min"},
    "brief.change.up": {"zh": "较上期增加 {delta}{pct}", "en": "up {delta}{pct} on the previous period"},
    "brief.change.down": {"zh": "较上期减少 {delta}{pct}", "en": "down {delta}{pct} on the previous period"},
    "brief.change.same": {"zh": "与上期持平", "en": "unchanged from the previous period"},
    "brief.change.na": {"zh": "上期无可比数据", "en": "no previous figure to compare"},
    "brief.n.cases": {"zh": "本期共受理案件 {n} 件，{change}；结案率 {rate}，状态为“{status}”。",
                      "en": "{n} cases were reported in the period, {change}; the closure rate was {rate} (status: {status})."},
    "brief.n.backlog": {"zh": "截至 {as_of}，未结案件 {backlog} 件，其中超期未结 {overdue} 件。",
                        "en": "As of {as_of}, {backlog} cases were open, {overdue} of them overdue."},
    "brief.n.top_overdue": {"zh": "超期未结最多的{level}是{unit}（{n} 件）。", "en": "The {level} with the most overdue open cases was {unit} ({n})."},
    "brief.n.air": {"zh": "PM2.5 均值 {pm25} μg/m³，超标 {hours} 设备·小时；设备在线率 {online}，静默设备 {silent} 台。",
                    "en": "PM2.5 averaged {pm25} μg/m³ with {hours} device-hours above 75 μg/m³; {online} of devices were online and {silent} were silent."},
    "brief.n.waits": {"zh": "政务服务平均等候 {mean} 分钟，95% 的办事群众等候不超过 {p95} 分钟。",
                      "en": "Service halls: mean wait {mean} min; 95% waited at most {p95} min."},
    "brief.n.no_waits": {"zh": "本期无政务服务等候数据。", "en": "No service hall waits were recorded in the period."},
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
