"""Interface language (界面语言): Chinese by default, English on request.

The catalogue is data: ``MESSAGES[key] = {"zh": ..., "en": ...}``. The language comes from ``?lang=``
(remembered in the session), then the session, then the ``language`` setting.
"""
from __future__ import annotations

from flask import request, session

from app.messages import merged

LANGUAGES = ("zh", "en")

_CORE: dict[str, dict[str, str]] = {
    "app_title": {"zh": "{district}网格化管理", "en": "{district} grid management"},
    "login": {"zh": "登录", "en": "Log in"},
    "logout": {"zh": "退出", "en": "Log out"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "密码", "en": "Password"},
    "bad_login": {"zh": "用户名或密码错误", "en": "Wrong username or password"},
    "bad_form": {"zh": "输入有误", "en": "Invalid input"},
    "login_throttled": {"zh": "登录失败次数过多，请 {minutes} 分钟后再试", "en":
                        "Too many failed log-ins: try again in {minutes} min"},
    "change_password": {"zh": "修改密码", "en": "Change password"},
    "current_password": {"zh": "当前密码", "en": "Current password"},
    "new_password": {"zh": "新密码", "en": "New password"},
    "new_password_again": {"zh": "再次输入新密码", "en": "New password again"},
    "wrong_current_password": {"zh": "当前密码不正确", "en": "The current password is wrong"},
    "password_too_short": {"zh": "密码至少 {n} 个字符", "en": "At least {n} characters"},
    "passwords_differ": {"zh": "两次输入的新密码不一致", "en": "The two new passwords differ"},
    "password_changed": {"zh": "密码已修改；其他设备上的登录已全部退出", "en":
                         "Password changed; every other log-in of this account has ended"},
    "operator": {"zh": "指挥中心", "en": "Command centre"},
    "planner": {"zh": "覆盖规划", "en": "Coverage planning"},
    "grid": {"zh": "我的网格", "en": "My grids"},
    "stats": {"zh": "统计", "en": "Statistics"},
    # the management console's links in the bar (app/templates/dashboards/_nav.html)
    "nav_cameras": {"zh": "摄像头台账", "en": "Camera registry"},
    "nav_grids": {"zh": "网格与人员", "en": "Grids and members"},
    "nav_admin": {"zh": "系统管理", "en": "Administration"},
    "filters": {"zh": "筛选", "en": "Filters"},
    "category": {"zh": "类别", "en": "Category"},
    "state": {"zh": "状态", "en": "State"},
    "period_from": {"zh": "开始日期", "en": "From"},
    "period_to": {"zh": "结束日期", "en": "To"},
    "street": {"zh": "街道/镇", "en": "Street"},
    "community": {"zh": "社区", "en": "Community"},
    "all": {"zh": "全部", "en": "All"},
    "apply": {"zh": "应用", "en": "Apply"},
    "search": {"zh": "搜索", "en": "Search"},
    "search_hint": {"zh": "事件编号、摄像头编号、网格编码或地址", "en": "Incident no., camera ID, grid code or address"},
    "incident": {"zh": "事件", "en": "Incident"},
    "incidents": {"zh": "事件", "en": "Incidents"},
    "open_incidents": {"zh": "未办结事件", "en": "Open incidents"},
    "heat": {"zh": "事件热力图", "en": "Incident heat map"},
    "cameras": {"zh": "摄像头", "en": "Cameras"},
    "details": {"zh": "详情", "en": "Details"},
    "timeline": {"zh": "处理过程", "en": "Timeline"},
    "seen_by": {"zh": "可见摄像头", "en": "Cameras that see it"},
    "spot_cameras": {"zh": "此处可见摄像头", "en": "Cameras that see this spot"},
    "spot_hint": {"zh": "右键单击地图任意位置，查看能看到该处的摄像头", "en":
                  "Right-click anywhere on the map to see which cameras see that spot"},
    "no_camera": {"zh": "没有摄像头能看到此处", "en": "No camera sees this spot"},
    "overdue": {"zh": "超期", "en": "Overdue"},
    "deadline": {"zh": "办理期限", "en": "Deadline"},
    "truncated": {"zh": "仅显示最新的 {shown} / {total} 条；放大地图按范围加载", "en":
                  "Showing the newest {shown} of {total}; zoom in to load by area"},
    "coverage": {"zh": "覆盖率", "en": "Coverage ratio"},
    "blind_spots": {"zh": "盲区", "en": "Blind spots"},
    "outside_view_period": {"zh": "视野外未结事件（近 {days} 天）",
                            "en": "Open incidents outside camera view (last {days} days)"},
    "least_covered": {"zh": "覆盖率最低的网格", "en": "Least-covered grids"},
    "what_if": {"zh": "新增点位模拟", "en": "What-if: new sites"},
    "k_sites": {"zh": "新增点位数 K", "en": "New sites K"},
    "plan": {"zh": "计算", "en": "Plan"},
    "gain": {"zh": "覆盖增加", "en": "Coverage gain"},
    "proposed_sites": {"zh": "建议点位", "en": "Proposed sites"},
    "download": {"zh": "下载", "en": "Download"},
    "members": {"zh": "网格员", "en": "Members"},
    "name": {"zh": "姓名", "en": "Name"},
    "grid_name": {"zh": "网格名称", "en": "Grid name"},
    "phone": {"zh": "电话", "en": "Phone"},
    "roles": {"zh": "角色", "en": "Roles"},
    "actions": {"zh": "操作", "en": "Actions"},
    "note": {"zh": "备注", "en": "Note"},
    "move_hint": {"zh": "在地图上点击事件的新位置，填写备注后确认", "en":
                  "Click the incident's new spot on the map, write a note, then confirm"},
    "move_confirm": {"zh": "确认移动", "en": "Confirm move"},
    "cancel": {"zh": "取消", "en": "Cancel"},
    "patrols": {"zh": "近期巡查覆盖", "en": "Patrol coverage, recent days"},
    "unpatrolled": {"zh": "未巡查网格", "en": "Grids not patrolled"},
    "patrol_points": {"zh": "轨迹点", "en": "Points"},
    "patrol_days": {"zh": "巡查天数", "en": "Days"},
    "patrol_minutes": {"zh": "在格分钟", "en": "Minutes in grid"},
    "road_share": {"zh": "道路覆盖（≤30 米）", "en": "Roads within 30 m"},
    "per_month": {"zh": "每月事件数", "en": "Incidents per month"},
    "per_category": {"zh": "按类别", "en": "By category"},
    "per_street": {"zh": "按街道", "en": "By street"},
    "per_community": {"zh": "按社区", "en": "By community"},
    "per_grid": {"zh": "按网格（前30）", "en": "By grid (top 30)"},
    "resolution_time": {"zh": "办结用时分布（小时）", "en": "Resolution time (hours)"},
    "on_time_rate": {"zh": "按期办结率", "en": "On-time rate"},
    "camera_status": {"zh": "摄像头状态", "en": "Camera status"},
    "count": {"zh": "数量", "en": "Count"},
    "ratio": {"zh": "比例", "en": "Ratio"},
    "no_actions": {"zh": "无可执行操作", "en": "No actions available"},
    "done": {"zh": "已完成", "en": "Done"},
    "grid_code": {"zh": "网格编码", "en": "Grid code"},
    "reported_at": {"zh": "上报时间", "en": "Reported"},
    "description": {"zh": "描述", "en": "Description"},
    "address": {"zh": "地址", "en": "Address"},
    "reporter": {"zh": "报告人", "en": "Reporter"},
    "reporter_name": {"zh": "报告人", "en": "Reporter"},
    "reporter_phone": {"zh": "报告人电话", "en": "Reporter phone"},
    "priority": {"zh": "紧急程度", "en": "Priority"},
    "assignee": {"zh": "承办人", "en": "Assignee"},
    "not_available": {"zh": "该功能暂不可用", "en": "Not available yet"},
}
#: every message: the core ones above and each area's (``app.messages``), each key defined once
MESSAGES: dict[str, dict[str, str]] = merged(_CORE)


def current_language(default: str = "zh") -> str:
    """The request's language: ``?lang=`` (remembered), then the session, then ``default``."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        session["lang"] = asked
        return asked
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else (default if default in LANGUAGES else "zh")


def translate(key: str, lang: str, **values) -> str:
    """The message ``key`` in ``lang``; an unknown key is shown as itself so a gap is visible, not fatal."""
    entry = MESSAGES.get(key)
    text = key if entry is None else entry.get(lang) or entry["zh"]
    return text.format(**values) if values else text
