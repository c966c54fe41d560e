"""Messages of the statistics page (/dashboard/stats) (see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
    "st_period": {"zh": "统计期间", "en": "Period"},
    "st_last12": {"zh": "最近 12 个月", "en": "Last 12 months"},
    "st_all_time": {"zh": "全部时间", "en": "All time"},
    "st_from": {"zh": "起始月份", "en": "From month"},
    "st_to": {"zh": "结束月份", "en": "To month"},
    "st_months_hint": {"zh": "填写月份即按月份统计（含首尾两月）", "en": "Months given override the period (both included)"},
    "st_area": {"zh": "区域", "en": "Area"},
    "st_street": {"zh": "街道/镇", "en": "Street"},
    "st_community": {"zh": "社区", "en": "Community"},
    "st_grid": {"zh": "网格", "en": "Grid"},
    "st_any": {"zh": "不限", "en": "Any"},
    "st_one_area": {"zh": "街道、社区、网格三者只选其一", "en": "Choose one of street, community or grid"},
    "st_whole": {"zh": "全区", "en": "The whole district"},
    "st_your_grids": {"zh": "我的全部网格", "en": "All my grids"},
    "st_showing": {"zh": "统计期间：{period}；区域：{area}", "en": "Period: {period}; area: {area}"},
    "st_range": {"zh": "{start} 至 {end}", "en": "{start} to {end}"},
    "st_by_report": {"zh": "事件按上报月份计，按期办结率按派遣月份计；摄像头状态为当前状态，不受期间影响。",
                     "en": "Incidents count by month of report, the on-time rate by month of dispatch; "
                           "camera status is today's, whatever the period."},
    "st_show": {"zh": "查看", "en": "Show"},
}
