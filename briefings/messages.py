"""zh/en labels and narrative templates of the brief's comparison, spot, evaluation and dispatch
sections, added to the i18n message catalog when briefings is imported (kept beside the
briefings so their wording changes with them; a key already in the catalog is never replaced)."""
from __future__ import annotations

import i18n

MESSAGES: dict[str, dict[str, str]] = {
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


def register() -> None:
    for key, entry in MESSAGES.items():
        i18n.MESSAGES.setdefault(key, entry)


register()
