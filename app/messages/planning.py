"""Messages of the planner's proposed sites, adoption and busy indicator (see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
    # the map's popups and layers
    "plan_cameras": {"zh": "摄像头数", "en": "Cameras"},
    "plan_unseen_incidents": {"zh": "视野外事件数", "en": "Incidents out of view"},
    "plan_layer_planned": {"zh": "规划摄像头", "en": "Planned cameras"},
    "plan_layer_sites": {"zh": "建议点位", "en": "Proposed sites"},
    "plan_device_id": {"zh": "设备编码（临时）", "en": "Device ID (provisional)"},
    "plan_range_m": {"zh": "视距（米）", "en": "Range (m)"},
    "plan_adopted_by": {"zh": "采纳人", "en": "Adopted by"},
    # the least-covered table
    "plan_ties": {"zh": "覆盖率相同时，视野外事件多者、面积大者在前",
                  "en": "Equal coverage: most incidents out of view, then the largest area, first"},
    # the what-if and its list
    "plan_run": {"zh": "计算", "en": "Plan"},
    "plan_busy": {"zh": "正在计算点位……", "en": "Planning the sites…"},
    "plan_failed": {"zh": "计算失败：{reason}", "en": "The plan failed: {reason}"},
    "plan_offline": {"zh": "无法连接服务器，请检查网络后重试", "en": "The server cannot be reached; check the network and retry"},
    "plan_summary": {"zh": "{k} 个新点位：覆盖 {before} → {after}（+{gain} / {total} 加权事件）",
                     "en": "{k} new sites: coverage {before} → {after} (+{gain} of {total} weighted incidents)"},
    "plan_sites": {"zh": "建议点位", "en": "Proposed sites"},
    "plan_rank": {"zh": "序号", "en": "#"},
    "plan_wgs84": {"zh": "经纬度（WGS-84）", "en": "Lon/lat (WGS-84)"},
    "plan_shown": {"zh": "地图坐标", "en": "Map coordinates"},
    "plan_gain": {"zh": "增加", "en": "Gain"},
    "plan_share": {"zh": "累计覆盖", "en": "Cumulative"},
    "plan_grid": {"zh": "网格", "en": "Grid"},
    "plan_export": {"zh": "导出本方案", "en": "Export this plan"},
    "plan_stale": {"zh": "数据已变化，请重新计算后再导出", "en": "The data changed; run the plan again before exporting"},
    # adoption
    "plan_adopt": {"zh": "采纳", "en": "Adopt"},
    "plan_adopting": {"zh": "正在采纳……", "en": "Adopting…"},
    "plan_adopted": {"zh": "已采纳为规划摄像头 {id}", "en": "Adopted as planned camera {id}"},
    "plan_adopt_conflict": {"zh": "该点位已采纳：{reason}", "en": "Already adopted: {reason}"},
    "plan_note": {"zh": "规划摄像头建成并设为在线后才计入覆盖", "en": "A planned camera counts as coverage only once built and set online"},
    "plan_k_bad": {"zh": "请输入 1 到 {max} 之间的整数", "en": "Give a whole number from 1 to {max}"},
}
