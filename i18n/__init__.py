"""Message catalog (zh/en) and locale-aware formatting (Babel). Labels live here, not in code."""
from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import format_decimal, parse_pattern

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
    "feeds.unplaced": {
        "zh": "{outside_cases}件案件不在任何{level}内（在办{outside_open}件），{unlocated_cases}件没有位置（在办{unlocated_open}件）",
        "en": "{outside_cases} cases outside every {level} ({outside_open} open), {unlocated_cases} without a place "
              "({unlocated_open} open)",
    },
    "quarantine.title": {"zh": "待处理的隔离记录", "en": "Quarantined records waiting for a fix"},
    "quarantine.col.reason": {"zh": "原因", "en": "Reason"},
    "quarantine.col.records": {"zh": "条数", "en": "Records"},
    "quarantine.col.last": {"zh": "最近", "en": "Last"},
    "quarantine.none": {"zh": "没有隔离记录", "en": "Nothing quarantined"},
    "user.sign_in": {"zh": "登录", "en": "Sign in"},
    "user.sign_out": {"zh": "退出", "en": "sign out"},
    # login and account pages (api/auth.py): one message for a wrong name, a wrong password and a lock
    "login.failed": {"zh": "用户名或密码错误，或账号暂时无法登录。", "en": "Wrong name or password, or the account cannot sign in now."},
    "login.too_many": {"zh": "尝试次数过多，请一分钟后再试。", "en": "Too many attempts; wait a minute."},
    "login.expired": {"zh": "表单已过期，请重试。", "en": "The form expired; please try again."},
    "account.password_title": {"zh": "修改密码", "en": "Change password"},
    "account.current_password": {"zh": "当前密码", "en": "Current password"},
    "account.new_password": {"zh": "新密码（至少 8 位）", "en": "New password (8 characters or more)"},
    "account.password_changed": {"zh": "密码已修改；其他会话已退出。", "en": "Password changed; your other sessions have ended."},
    "account.password_too_short": {"zh": "新密码至少 8 位。", "en": "The new password needs 8 characters or more."},
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
    "drill.bad_window": {"zh": "地址中的时间窗口无法识别或超出范围", "en": "The time window in the address is not a date or is out of range"},
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
    # Joint dispatch in the console (layouts/dispatch.py, layouts/queue.py, callbacks/dispatch.py)
    "dispatch.launch": {"zh": "发起联动派遣", "en": "Launch joint dispatch"},
    "dispatch.launch_n": {"zh": "联动派遣（已选 {n} 件）", "en": "Joint dispatch ({n} selected)"},
    "dispatch.select_hint": {"zh": "勾选案件后可发起联动派遣", "en": "Tick cases to launch a joint dispatch"},
    "dispatch.form.title": {"zh": "联动派遣单", "en": "Joint dispatch order"},
    "dispatch.field.title": {"zh": "标题", "en": "Title"},
    "dispatch.field.cases": {"zh": "关联案件", "en": "Linked cases"},
    "dispatch.field.lead": {"zh": "主办部门", "en": "Lead department"},
    "dispatch.field.assist": {"zh": "协办部门", "en": "Assisting departments"},
    "dispatch.field.priority": {"zh": "优先级", "en": "Priority"},
    "dispatch.field.deadline": {"zh": "办结时限", "en": "Deadline"},
    "dispatch.field.instructions": {"zh": "指挥要求", "en": "Instructions"},
    "dispatch.instructions.placeholder": {"zh": "写明处置要求、注意事项…", "en": "What to do, what to watch out for…"},
    "dispatch.assist.placeholder": {"zh": "选择协办部门", "en": "Choose assisting departments"},
    "dispatch.priority.1": {"zh": "P1 特急", "en": "P1 critical"},
    "dispatch.priority.2": {"zh": "P2 紧急", "en": "P2 urgent"},
    "dispatch.priority.3": {"zh": "P3 一般", "en": "P3 normal"},
    "dispatch.priority.4": {"zh": "P4 缓办", "en": "P4 low"},
    "dispatch.deadline.text": {"zh": "{due}（签收时限 {ack}）", "en": "{due} (acknowledge within {ack})"},
    "dispatch.deadline.working": {"zh": "部分类别按工作日历计时", "en": "some categories count working time only"},
    "dispatch.basis": {"zh": "建议依据", "en": "Why these departments"},
    "dispatch.basis.history": {"zh": "近 {days} 天同类派遣单 {n} 单已办结", "en": "{n} similar orders resolved in the last {days} days"},
    "dispatch.reason.rule_lead": {"zh": "类别规则·主办", "en": "category rule: lead"},
    "dispatch.reason.rule_assist": {"zh": "类别规则·协办", "en": "category rule: assisting"},
    "dispatch.reason.history_lead": {"zh": "同类派遣单主办最多", "en": "led most similar orders"},
    "dispatch.reason.history_together": {"zh": "共同办结同类派遣单 {n} 单", "en": "resolved {n} similar orders together"},
    "dispatch.reason.history_cases": {"zh": "近期办结同类案件 {n} 件", "en": "closed {n} similar cases recently"},
    "dispatch.default_title": {"zh": "{category}等 {n} 件案件联动处置", "en": "Joint handling: {category} and more ({n} cases)"},
    "dispatch.default_title_one": {"zh": "{category}联动处置", "en": "Joint handling: {category}"},
    "dispatch.submit": {"zh": "派遣", "en": "Dispatch"},
    "dispatch.cancel": {"zh": "取消", "en": "Cancel"},
    "dispatch.created": {"zh": "已派遣 {id}：主办 {lead}，协办 {assists}", "en": "Order {id} issued: lead {lead}, assisting {assists}"},
    "dispatch.refused": {"zh": "未能派遣：{reason}", "en": "Not dispatched: {reason}"},
    "dispatch.missing": {"zh": "{n} 件案件不在您的范围内，已略过", "en": "{n} cases are outside your scope and were left out"},
    "dispatch.no_cases": {"zh": "请先选择案件", "en": "Select cases first"},
    "dispatch.need_lead": {"zh": "请选择主办部门", "en": "Choose a lead department"},
    "dispatch.need_title": {"zh": "请填写标题", "en": "Give the order a title"},
    "dispatch.view_queue": {"zh": "查看派遣任务", "en": "Open the dispatch queue"},
    "dispatch.none": {"zh": "无", "en": "none"},
    "dispatch.origin.alert": {"zh": "来源：预警 #{id} {title}", "en": "From alert #{id}: {title}"},
    "dispatch.origin.alert_evidence": {"zh": "（预警所列在办案件 {n} 件）", "en": " ({n} open cases named by the alert)"},
    "dispatch.origin.alert_unit": {"zh": "（该区域超期未结案件 {n} 件）", "en": " ({n} overdue open cases of its area)"},
    "dispatch.origin.unit": {"zh": "来源：地图区域 {unit} · 超期未结案件 {n} 件", "en": "From the map: {unit} · {n} overdue open cases"},
    "dispatch.origin.box": {"zh": "来源：地图框选区域 · 超期未结案件 {n} 件", "en": "From a box on the map · {n} overdue open cases"},
    "alert.dispatch": {"zh": "联动派遣", "en": "Dispatch"},
    "alert.evidence_cases": {"zh": "{n} 件", "en": "{n} cases"},
    "overview.area_mode": {"zh": "区域派遣", "en": "Area dispatch"},
    "overview.area_hint": {"zh": "点击区县，或在地图上拖拽框选，派遣其中的超期未结案件",
                           "en": "Click a district, or drag a box on the map, to dispatch its overdue open cases"},
    # Refusals of dispatch.service / dispatch.states, by key (DispatchError.key, RefusedError.key)
    "refusal.alert_not_visible": {"zh": "预警 #{id} 不存在、已关闭或不在您的范围内", "en": "no open alert {id} in your scope"},
    "refusal.cases_outside": {"zh": "案件不存在或不在您的范围内：{ids}", "en": "unknown case id(s) or outside your scope: {ids}"},
    "refusal.cases_closed": {"zh": "已结案的案件不能再派遣：{ids}", "en": "closed case(s) cannot be dispatched: {ids}"},
    "refusal.unknown_action": {"zh": "未知操作：{action}", "en": "unknown action {action}"},
    "refusal.role": {"zh": "{role}无权{action}", "en": "a {role} may not {action}"},
    "refusal.create_role": {"zh": "{role}无权发起联动派遣", "en": "a {role} may not launch a joint dispatch"},
    "refusal.leader_scope": {"zh": "派遣单有案件不在您负责的区域内", "en": "the order has cases outside your units"},
    "refusal.own_task": {"zh": "只能处理本部门的任务，不能处理{department}的任务", "en": "you may act only on your own department's task, not on {department}'s"},
    "refusal.no_task": {"zh": "派遣单没有{department}的有效任务", "en": "the order has no active task for {department}"},
    "refusal.order_state": {"zh": "派遣单{state}，不能{action}", "en": "cannot {action} an order that is {state}"},
    "refusal.task_state": {"zh": "任务{state}，不能{action}", "en": "cannot {action} a task that is {state}"},
    "refusal.no_extension": {"zh": "该任务没有待批准的延期申请", "en": "no extension request is pending for this task"},
    "refusal.extend_needs_due": {"zh": "请填写新的办结时限", "en": "give the new deadline"},
    "refusal.deadline_not_later": {"zh": "新的办结时限须晚于当前时限（{due}）", "en": "the new deadline must be later than the current one ({due})"},
    "refusal.reassign_needs_target": {"zh": "请选择改派至哪个部门", "en": "choose the department to reassign to"},
    "refusal.already_tasked": {"zh": "{department}在该派遣单上已有任务", "en": "{department} already has an active task on this order"},
    "refusal.verify_waits": {"zh": "不能核查：{departments}的任务尚未办结", "en": "cannot verify: the task(s) of {departments} are not resolved yet"},
    "refusal.no_order": {"zh": "派遣单 {id} 不存在或不在您的范围内", "en": "no dispatch order {id} in your scope"},
    "refusal.stale": {"zh": "派遣单已被他人更新，请刷新后重试", "en": "someone else changed the order meanwhile; refresh and try again"},
    "refusal.due_in_past": {"zh": "办结时限须晚于现在", "en": "the deadline must be in the future"},
    "refusal.need_lead": {"zh": "请选择主办部门（案件类别没有建议）", "en": "choose a lead department (the categories suggest none)"},
    "refusal.bad_time": {"zh": "时间格式无法识别", "en": "that is not a date and time"},
    "refusal.origin_no_cases": {"zh": "该预警或区域已没有在办案件可派遣", "en": "none of these cases is open in the alert's unit or the area any more"},
    "dstate.issued": {"zh": "已派发", "en": "issued"},
    "dstate.acknowledged": {"zh": "已签收", "en": "acknowledged"},
    "dstate.in_progress": {"zh": "处置中", "en": "in progress"},
    "dstate.resolved": {"zh": "已办结", "en": "resolved"},
    "dstate.verified": {"zh": "已核查", "en": "verified"},
    "dstate.closed": {"zh": "已结案", "en": "closed"},
    "dstate.cancelled": {"zh": "已撤销", "en": "cancelled"},
    "dstate.returned": {"zh": "已回退", "en": "returned"},
    "dstate.reassigned": {"zh": "已改派", "en": "reassigned"},
    "queue.nav": {"zh": "派遣任务", "en": "Dispatch queue"},
    "queue.title.department": {"zh": "{department} · 派遣任务", "en": "{department} · dispatch tasks"},
    "queue.title.command": {"zh": "联动派遣单", "en": "Joint dispatch orders"},
    "queue.view.todo": {"zh": "待我处理", "en": "Waiting for me"},
    "queue.view.open": {"zh": "进行中", "en": "Open"},
    "queue.view.late": {"zh": "已超时", "en": "Late"},
    "queue.view.all": {"zh": "全部", "en": "All"},
    "queue.priority.all": {"zh": "全部优先级", "en": "All priorities"},
    "queue.count": {"zh": "共 {n} 单", "en": "{n} orders"},
    "queue.empty": {"zh": "暂无派遣单", "en": "No orders here"},
    "queue.no_access": {"zh": "您的角色不处理派遣任务", "en": "Your role does not handle dispatch tasks"},
    "queue.note.placeholder": {"zh": "进展或理由（报告进展、回退、延期、改派、撤销时必填）",
                               "en": "Progress or reason (needed to report progress, return, extend, reassign or cancel)"},
    "queue.action.acknowledge": {"zh": "签收", "en": "Acknowledge"},
    "queue.action.start": {"zh": "开始处置", "en": "Start"},
    "queue.action.progress": {"zh": "报告进展", "en": "Report progress"},
    "queue.action.resolve": {"zh": "办结", "en": "Resolve"},
    "queue.action.verify": {"zh": "核查通过", "en": "Verify"},
    "queue.action.close": {"zh": "结案", "en": "Close"},
    "queue.action.return": {"zh": "回退", "en": "Return"},
    "queue.action.return.task": {"zh": "回退 {department}", "en": "Return to {department}"},
    "queue.action.approve_extension": {"zh": "批准延期", "en": "Approve extension"},
    "queue.action.approve_extension.task": {"zh": "批准延期 {department}", "en": "Approve extension: {department}"},
    "queue.action.extend": {"zh": "延期", "en": "Extend"},
    "queue.action.extend.task": {"zh": "延期 {department}", "en": "Extend {department}"},
    "queue.action.request_extension": {"zh": "申请延期", "en": "Ask for more time"},
    "queue.action.reassign": {"zh": "改派", "en": "Reassign"},
    "queue.action.reassign.task": {"zh": "改派 {department}", "en": "Reassign {department}"},
    "queue.action.cancel": {"zh": "撤销派遣单", "en": "Cancel the order"},
    "queue.adjust": {"zh": "调整：", "en": "Adjust:"},
    "queue.new_due": {"zh": "新办结时限", "en": "New deadline"},
    "queue.to_department": {"zh": "改派至", "en": "Reassign to"},
    "queue.extension_requested": {"zh": "申请延期至 {time}", "en": "more time asked: {time}"},
    "queue.note_required.extend": {"zh": "请在说明栏填写延期理由", "en": "Write the reason for the extension in the note"},
    "queue.note_required.reassign": {"zh": "请在说明栏填写改派理由", "en": "Write the reason for the reassignment in the note"},
    "queue.note_required.cancel": {"zh": "请在说明栏填写撤销理由", "en": "Write the reason for the cancellation in the note"},
    # action names inside refusal messages
    "action.acknowledge": {"zh": "签收", "en": "acknowledge"},
    "action.start": {"zh": "开始处置", "en": "start"},
    "action.progress": {"zh": "报告进展", "en": "report progress on"},
    "action.resolve": {"zh": "办结", "en": "resolve"},
    "action.verify": {"zh": "核查", "en": "verify"},
    "action.close": {"zh": "结案", "en": "close"},
    "action.return": {"zh": "回退", "en": "return"},
    "action.reassign": {"zh": "改派", "en": "reassign"},
    "action.extend": {"zh": "延期", "en": "extend"},
    "action.approve_extension": {"zh": "批准延期", "en": "approve an extension of"},
    "action.cancel": {"zh": "撤销", "en": "cancel"},
    "queue.done": {"zh": "{order}：{action} 已完成", "en": "{order}: {action} done"},
    "queue.note_required": {"zh": "请先填写说明", "en": "Write a note first"},
    "queue.refused": {"zh": "操作未完成：{reason}", "en": "Not done: {reason}"},
    "queue.stale": {"zh": "派遣单已被他人更新，已刷新，请确认后重试", "en": "Someone else changed the order meanwhile; the list is refreshed, please check and try again"},
    "queue.late": {"zh": "超时", "en": "late"},
    "queue.role.lead": {"zh": "主办", "en": "lead"},
    "queue.role.assist": {"zh": "协办", "en": "assisting"},
    "queue.due": {"zh": "办结时限 {time}", "en": "due {time}"},
    "queue.ack_due": {"zh": "签收时限 {time}", "en": "acknowledge by {time}"},
    "queue.cases": {"zh": "{n} 件案件", "en": "{n} cases"},
    "queue.by": {"zh": "{who} 派发于 {time}", "en": "issued by {who} at {time}"},
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
    # City overview (layouts/home.py, callbacks/overview.py)
    "overview.indicator": {"zh": "地图指标", "en": "Map indicator"},
    "overview.layers": {"zh": "图层", "en": "Layers"},
    "overview.cases_layer": {"zh": "案件", "en": "Cases"},
    "layer.off": {"zh": "关闭", "en": "off"},
    "layer.hexbins": {"zh": "蜂窝", "en": "hexbins"},
    "layer.heat": {"zh": "热力", "en": "heat"},
    "layer.sensors": {"zh": "感知设备", "en": "Sensors"},
    "layer.halls": {"zh": "政务大厅", "en": "Service halls"},
    "layer.dispatch": {"zh": "派遣单", "en": "Dispatch orders"},
    "layer.legend.sensor_online": {"zh": "设备在线", "en": "sensor online"},
    "layer.legend.sensor_silent": {"zh": "设备静默", "en": "sensor silent"},
    "layer.legend.hall": {"zh": "大厅（越大等候越久）", "en": "hall (larger = longer wait)"},
    "layer.legend.cases": {"zh": "案件密度（{window}）", "en": "case density ({window})"},
    "layer.legend.late": {"zh": "红圈 = 超时", "en": "red ring = late"},
    "legend.status.green": {"zh": "达标", "en": "on target"},
    "legend.status.amber": {"zh": "关注", "en": "watch"},
    "legend.status.red": {"zh": "告警", "en": "alert"},
    "legend.status.none": {"zh": "无数据", "en": "no data"},
    "map.legend.indicator": {"zh": "{name} · {window}", "en": "{name} · {window}"},
    "window.P1D": {"zh": "近24小时", "en": "last 24 h"},
    "window.P7D": {"zh": "近7天", "en": "last 7 days"},
    "window.P30D": {"zh": "近30天", "en": "last 30 days"},
    "window.PT15M": {"zh": "近15分钟", "en": "last 15 min"},
    "kpi.change": {"zh": "环比 {arrow} {pct}", "en": "{arrow} {pct} vs previous"},
    "kpi.change.same": {"zh": "环比持平", "en": "same as previous"},
    "kpi.change.na": {"zh": "环比 –", "en": "no previous figure"},
    "kpi.previous": {"zh": "上期 {value}", "en": "previous {value}"},
    "kpi.trend": {"zh": "近{days}天逐日", "en": "daily, last {days} days"},
    "overview.alerts": {"zh": "预警", "en": "Alerts"},
    "overview.alerts.count": {"zh": "预警 · {n} 条未关闭", "en": "Alerts · {n} open"},
    "overview.alerts.none": {"zh": "暂无预警", "en": "No open alerts"},
    "alert.ack": {"zh": "确认", "en": "Acknowledge"},
    "alert.acked": {"zh": "已确认预警 #{id}", "en": "Alert #{id} acknowledged"},
    "alert.denied": {"zh": "无权确认该预警", "en": "You may not acknowledge this alert"},
    "alert.severity.high": {"zh": "高", "en": "high"},
    "alert.severity.medium": {"zh": "中", "en": "medium"},
    "alert.state.new": {"zh": "新", "en": "new"},
    "alert.state.acknowledged": {"zh": "已确认", "en": "acknowledged"},
    "alert.state.dispatched": {"zh": "已派遣", "en": "dispatched"},
    "alert.rule.spike": {"zh": "激增", "en": "spike"},
    "alert.rule.threshold": {"zh": "越线", "en": "threshold"},
    "alert.rule.device_silence": {"zh": "设备静默", "en": "device silent"},
    "alert.rule.feed_silence": {"zh": "数据中断", "en": "feed stalled"},
    "alert.scope.city": {"zh": "全市", "en": "city-wide"},
    "alert.since": {"zh": "始于 {time}", "en": "since {time}"},
    "alert.evidence": {"zh": "依据", "en": "Evidence"},
    "overview.dispatch": {"zh": "联动派遣", "en": "Joint dispatch"},
    "overview.dispatch.summary": {"zh": "进行中 {total} 单 · 超时 {late} 单", "en": "{total} open · {late} late"},
    "overview.dispatch.late_list": {"zh": "超时派遣单", "en": "Late orders"},
    "board.state.issued": {"zh": "已派发", "en": "issued"},
    "board.state.acknowledged": {"zh": "已签收", "en": "acknowledged"},
    "board.state.in_progress": {"zh": "处置中", "en": "in progress"},
    "board.state.resolved": {"zh": "已办结", "en": "resolved"},
    "board.due": {"zh": "时限 {time}", "en": "due {time}"},
    "board.late": {"zh": "超时", "en": "late"},
    "wall.focus": {"zh": "焦点", "en": "Focus"},
    "wall.focus.none": {"zh": "各区暂无异常", "en": "No district with a live anomaly"},
    "wall.focus.count": {"zh": "{i}/{n}", "en": "{i}/{n}"},
    "wall.dispatch.summary": {"zh": "进行中 {total} · 超时 {late}", "en": "{total} open · {late} late"},
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
    # briefs: 同比, hot and blind spots, composite evaluation, joint dispatch
    "brief.col.last_year": {"zh": "去年同期", "en": "Last year"},
    "brief.col.yoy": {"zh": "同比", "en": "Year on year"},
    "brief.col.department": {"zh": "部门", "en": "Department"},
    "brief.col.now_n": {"zh": "本期", "en": "Now"},
    "brief.col.base_mean": {"zh": "前{n}期均值", "en": "Mean of {n} before"},
    "brief.col.rise": {"zh": "增量", "en": "Rise"},
    "brief.col.ratio": {"zh": "倍数", "en": "Ratio"},
    "brief.col.open_n": {"zh": "在办", "en": "Open"},
    "brief.col.overdue_n": {"zh": "超期", "en": "Overdue"},
    "brief.col.closures_n": {"zh": "本期结案", "en": "Closed in period"},
    "brief.col.closure_share": {"zh": "应结案结案率", "en": "Closed of due"},
    "brief.col.reasons": {"zh": "问题", "en": "Issue"},
    "brief.col.score": {"zh": "综合得分", "en": "Score"},
    "brief.col.grade": {"zh": "等级", "en": "Grade"},
    "brief.col.overdue_share": {"zh": "超期率", "en": "Overdue share"},
    "brief.col.launched": {"zh": "发起", "en": "Launched"},
    "brief.col.closed_orders": {"zh": "办结", "en": "Closed"},
    "brief.col.late": {"zh": "超时", "en": "Late"},
    "brief.col.all_departments": {"zh": "合计（按调度单）", "en": "All (orders)"},
    "brief.sec.hot": {"zh": "热点：需求上升最多的{level}（按部门）", "en": "Hot spots: where demand rose most, by department ({level})"},
    "brief.sec.blind": {"zh": "盲点：有需求但处置迟缓的{level}（按部门）", "en": "Blind spots: demand with slow or no handling, by department ({level})"},
    "brief.sec.evaluation": {"zh": "综合评价", "en": "Composite evaluation"},
    "brief.sec.eval_units": {"zh": "{level}综合评价排名", "en": "{level} composite ranking"},
    "brief.sec.eval_departments": {"zh": "部门综合评价排名", "en": "Department composite ranking"},
    "brief.sec.dispatch": {"zh": "联合调度情况", "en": "Joint dispatch"},
    "brief.eval.method": {
        "zh": "评价方法（参照 GB/T 30428）：按期结案率 35%、结案率 25%、超期率 25%、结案时长中位数 15%；"
              "各项按目标阈值折算为 0–100 分（达到目标 100 分，预警线 60 分），加权得综合得分；"
              "A 优秀 ≥90，B 良好 ≥75，C 合格 ≥60，D 不合格 <60。",
        "en": "Method (after GB/T 30428): on-time closure rate 35%, closure rate 25%, overdue share 25%, "
              "median hours to close 15%; each scored 0–100 against its thresholds (target 100, alert line 60) "
              "and weighted into the score; A ≥90, B ≥75, C ≥60, D <60."},
    "brief.grade.A": {"zh": "A 优秀", "en": "A"},
    "brief.grade.B": {"zh": "B 良好", "en": "B"},
    "brief.grade.C": {"zh": "C 合格", "en": "C"},
    "brief.grade.D": {"zh": "D 不合格", "en": "D"},
    "brief.reason.overdue": {"zh": "超期积压", "en": "overdue backlog"},
    "brief.reason.no_closure": {"zh": "本期无结案", "en": "nothing closed"},
    "brief.reason.low_closure": {"zh": "结案比低", "en": "low closure"},
    "brief.spots.rule_hot": {
        "zh": "规则：本期受理 ≥{min_count} 件，比前 {periods} 期均值增加 ≥{min_rise} 件且倍数（加 1 平滑）≥{min_ratio}；按增量排序，每部门最多 {per} 项。",
        "en": "Rule: at least {min_count} reported, at least {min_rise} more than the mean of the {periods} periods before "
              "and a ratio (plus-one smoothed) of at least {min_ratio}; by rise, at most {per} per department."},
    "brief.spots.rule_blind": {
        "zh": "规则：超期未结 ≥{min_overdue} 件且占在办 ≥{share}；或在办 ≥{min_count} 件而本期无结案；"
              "或本期受理且应结 ≥{min_count} 件而结案比 <{low}。",
        "en": "Rule: at least {min_overdue} overdue open, {share} or more of the open; or at least {min_count} open and "
              "nothing closed in the period; or at least {min_count} reported and due, and less than {low} of them closed."},
    "brief.change.yoy.up": {"zh": "较去年同期增加 {delta}{pct}", "en": "up {delta}{pct} on the same period last year"},
    "brief.change.yoy.down": {"zh": "较去年同期减少 {delta}{pct}", "en": "down {delta}{pct} on the same period last year"},
    "brief.change.yoy.same": {"zh": "与去年同期持平", "en": "unchanged from the same period last year"},
    "brief.change.yoy.na": {"zh": "去年同期无可比数据", "en": "no figure for the same period last year"},
    "brief.n.yoy": {"zh": "受理案件{change}。", "en": "Cases reported were {change}."},
    "brief.n.yoy_na": {"zh": "去年同期无可比的受理数据。", "en": "There is no figure for the same period last year to compare with."},
    "brief.n.hot": {"zh": "需求上升最多的是{unit}的{dept}案件：本期 {now} 件，前 {periods} 期平均 {base} 件。",
                    "en": "Demand rose most for {dept} in {unit}: {now} cases, against a mean of {base} over the {periods} periods before."},
    "brief.n.no_hot": {"zh": "本期未发现需求明显上升的热点。", "en": "No unit showed a marked rise in demand."},
    "brief.n.blind": {"zh": "处置盲点：{unit}的{dept}案件在办 {open} 件，其中超期 {overdue} 件，本期结案 {closures} 件。",
                      "en": "Blind spot: {dept} in {unit} has {open} open cases, {overdue} of them overdue, and closed {closures} in the period."},
    "brief.n.no_blind": {"zh": "本期未发现处置盲点。", "en": "No blind spot was found."},
    "brief.n.eval": {"zh": "{what}综合评价中，{best}得分最高（{best_score} 分，{best_grade}），{worst}最低（{worst_score} 分，{worst_grade}）。",
                     "en": "In the {what} evaluation, {best} scored highest ({best_score}, grade {best_grade}) and {worst} lowest ({worst_score}, grade {worst_grade})."},
    "brief.n.dispatch": {"zh": "本期发起联合调度 {launched} 单，截至统计时点办结 {closed} 单，超时 {late} 单。",
                         "en": "{launched} joint dispatch orders were launched; {closed} were closed by the as-of time and {late} were late."},
    "brief.n.no_dispatch": {"zh": "本期未发起联合调度。", "en": "No joint dispatch order was launched in the period."},
    "brief.eval.what.units": {"zh": "{level}", "en": "{level}"},
    "brief.eval.what.departments": {"zh": "部门", "en": "department"},
}


def t(key: str, lang: str, **values) -> str:
    entry = MESSAGES.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["en"]
    return text.format(**values) if values else text


@functools.cache
def _locale(lang: str) -> Locale:
    """Babel's parsed locale, once per language (parsing it per call was a tenth of a web worker's CPU)."""
    return Locale.parse(LOCALES.get(lang, "en_US"))


@functools.cache
def _number_format(lang: str, digits: int):
    """Babel's parsed locale and pattern, once per (language, digits): parsing them per number cost
    7% of the console's CPU under load."""
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return _locale(lang), parse_pattern(pattern)


def number(value, lang: str, digits: int = 0) -> str:
    if value is None:
        return "–"
    locale, pattern = _number_format(lang, digits)
    return format_decimal(value, format=pattern, locale=locale)


def indicator_number(value, unit: str, lang: str) -> str:
    """An indicator's figure without a unit sign: ratios as percent, means with one decimal, counts whole."""
    if value is None:
        return "–"
    if unit == "ratio":
        return number(value * 100, lang, digits=1)
    if unit in ("ug/m3", "min", "h"):
        return number(value, lang, digits=1)
    return number(value, lang)


def indicator_value(value, unit: str, lang: str) -> str:
    """An indicator's value as shown in running text: indicator_number, with % after a ratio."""
    text = indicator_number(value, unit, lang)
    return text + "%" if unit == "ratio" and value is not None else text


def local_time(value: dt.datetime | None, timezone: str, lang: str, fmt: str = "medium") -> str:
    """A naive-UTC timestamp shown in the city's zone and the user's language."""
    if value is None:
        return "–"
    zone = zoneinfo.ZoneInfo(timezone)
    aware = value.replace(tzinfo=dt.UTC).astimezone(zone)
    return format_datetime(aware, format=fmt, tzinfo=zone, locale=_locale(lang))


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


LANG_COOKIE = "citybrain_lang"


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language tags of an Accept-Language header, most preferred first ("zh-CN,en;q=0.8" -> ["zh", "en"])."""
    ranked = []
    for n, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            ranked.append((-q, n, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(ranked)]


def resolve_lang(explicit: str | None, remembered: str | None, accept_language: str | None, default: str) -> str:
    """The UI language: an explicit ?lang=, else the remembered choice, else the browser's, else the city's."""
    for choice in (explicit, remembered, *parse_accept_language(accept_language)):
        if choice in LANGS:
            return choice
    return pick_lang(None, default)


def request_lang(explicit: str | None, default: str | None = None) -> str:
    """resolve_lang for the current HTTP request (cookie LANG_COOKIE, Accept-Language); outside one, explicit
    or default. Without a default, the running console's city default (else zh)."""
    try:
        from flask import current_app, has_request_context, request
    except ImportError:  # pragma: no cover
        return pick_lang(explicit, default or "zh")
    if not has_request_context():
        return pick_lang(explicit, default or "zh")
    if default is None:
        runtime = current_app.extensions.get("citybrain")
        default = runtime.pack.default_lang if runtime is not None else "zh"
    return resolve_lang(explicit, request.cookies.get(LANG_COOKIE), request.headers.get("Accept-Language"), default)


# AG Grid's own texts in Chinese (its localeText); English is AG Grid's default.
AG_GRID_ZH = {
    "page": "页", "more": "更多", "to": "至", "of": "共", "next": "下一页", "last": "末页", "first": "首页",
    "previous": "上一页", "firstPage": "首页", "previousPage": "上一页", "nextPage": "下一页", "lastPage": "末页",
    "pageLastRowUnknown": "?", "pageSizeSelectorLabel": "每页条数：", "ariaPageSizeSelectorLabel": "每页条数",
    "loadingOoo": "加载中…", "loadingError": "加载出错", "noRowsToShow": "无数据", "enabled": "启用",
    "selectAll": "全选", "selectAllSearchResults": "全选搜索结果", "searchOoo": "搜索…", "blanks": "空白",
    "noMatches": "无匹配", "filterOoo": "筛选…", "equals": "等于", "notEqual": "不等于", "blank": "为空",
    "notBlank": "不为空", "empty": "请选择", "lessThan": "小于", "greaterThan": "大于",
    "lessThanOrEqual": "小于等于", "greaterThanOrEqual": "大于等于", "inRange": "介于", "inRangeStart": "从",
    "inRangeEnd": "到", "contains": "包含", "notContains": "不包含", "startsWith": "开头是", "endsWith": "结尾是",
    "dateFormatOoo": "yyyy-mm-dd", "before": "早于", "after": "晚于", "andCondition": "且", "orCondition": "或",
    "applyFilter": "应用", "resetFilter": "重置", "clearFilter": "清除", "cancelFilter": "取消",
    "textFilter": "文本筛选", "numberFilter": "数字筛选", "dateFilter": "日期筛选", "setFilter": "集合筛选",
    "filterConditions": "筛选条件", "filterSearch": "搜索", "columns": "列", "filters": "筛选",
    "pinColumn": "固定列", "pinLeft": "固定在左侧", "pinRight": "固定在右侧", "noPin": "取消固定",
    "autosizeThisColumn": "自动调整此列宽度", "autosizeAllColumns": "自动调整所有列宽度", "resetColumns": "重置列",
    "sortAscending": "升序", "sortDescending": "降序", "sortUnSort": "取消排序", "columnFilter": "列筛选",
    "columnChooser": "选择列", "chooseColumns": "选择列", "hideColumn": "隐藏列", "copy": "复制",
    "copyWithHeaders": "连同表头复制", "paste": "粘贴", "export": "导出", "csvExport": "导出 CSV",
    "totalRows": "总行数", "totalAndFilteredRows": "行", "filteredRows": "已筛选", "selectedRows": "已选",
    "footerTotal": "合计", "ariaFilterInput": "筛选输入", "ariaSearch": "搜索", "ariaSearchFilterValues": "搜索筛选值",
}


def ag_grid_locale(lang: str) -> dict:
    """AG Grid's localeText for the UI language ({} = AG Grid's English)."""
    return dict(AG_GRID_ZH) if lang == "zh" else {}
