"""Messages of the loop pages (see app.messages): the detail panel's actions, and the timeline's system notes.

``loop_note_*`` are notes the incident service writes itself (``IncidentEvent.note_key`` + ``note_args``):
the timeline shows them in the reader's language; ``note`` keeps the Chinese text.
"""

MESSAGES: dict[str, dict[str, str]] = {
    # system notes of the timeline (their values: app.incidents.service)
    "loop_note_to_member": {"zh": "派给 {member}", "en": "to {member}"},
    "loop_note_to_member_note": {"zh": "派给 {member}：{note}", "en": "to {member}: {note}"},
    "loop_note_suspected_duplicate": {"zh": "疑似与事件 {no} 重复", "en": "suspected duplicate of incident {no}"},
    "loop_note_duplicate_of": {"zh": "与事件 {no} 重复", "en": "duplicate of incident {no}"},
    "loop_note_moved": {"zh": "{note}（网格 {old} → {new}）", "en": "{note} (grid {old} → {new})"},
    "loop_note_redispatched": {"zh": "移动后重新派给网格 {grid} 的网格长 {member}",
                               "en": "re-dispatched to {member}, lead of grid {grid}, after the move"},
    "loop_note_redispatch_no_lead": {"zh": "移动后重新派遣：网格 {grid} 没有网格长，请指定承办人",
                                     "en": "re-dispatched after the move: grid {grid} has no lead, choose an assignee"},
    # the detail panel
    "loop_loading": {"zh": "加载中…", "en": "Loading…"},
    "loop_photos": {"zh": "照片", "en": "Photos"},
    "loop_photos_before": {"zh": "处置前", "en": "Before"},
    "loop_photos_after": {"zh": "处置后", "en": "After"},
    "loop_photo_alt": {"zh": "照片 {id}", "en": "Photo {id}"},
    "loop_assign_to": {"zh": "承办人", "en": "Assign to"},
    "loop_no_members": {"zh": "该网格没有网格员", "en": "This grid has no members"},
    "loop_choose_member": {"zh": "请选择承办人", "en": "Choose who takes it"},
    "loop_note_required": {"zh": "说明（必填）", "en": "Note (required)"},
    "loop_note_missing": {"zh": "请填写说明后再提交", "en": "Write the note, then send again"},
    "loop_after_photos": {"zh": "处置后照片（可选，最多 {n} 张）", "en": "After photos (optional, up to {n})"},
    "loop_place_on_map": {"zh": "在地图上选定新位置", "en": "Place the new spot on the map"},
    "loop_move_place": {"zh": "请先在地图上点击新位置", "en": "Click the new spot on the map first"},
    "loop_done": {"zh": "已{action}，当前状态：{state}", "en": "{action}: done, now {state}"},
    "loop_conflict": {"zh": "该事件刚被他人更新，已重新加载最新内容，请核对后再操作",
                      "en": "Someone else changed this incident: it has been reloaded, check it and act again"},
    "loop_duplicate_of_suspected": {"zh": "疑似重复，原事件：", "en": "Suspected duplicate of"},
    "loop_duplicate_of_confirmed": {"zh": "已确认重复，原事件：", "en": "Confirmed duplicate of"},
    "loop_duplicate_of_rejected": {"zh": "曾疑似重复（已否定），事件：", "en": "Was flagged (rejected) as a duplicate of"},
    "loop_hint_accept": {"zh": "备注（可选）", "en": "Note (optional)"},
    "loop_hint_void": {"zh": "作废原因", "en": "Why it is voided"},
    "loop_hint_dispatch": {"zh": "备注（可选）", "en": "Note (optional)"},
    "loop_hint_start": {"zh": "备注（可选）", "en": "Note (optional)"},
    "loop_hint_resolve": {"zh": "处置情况", "en": "What was done"},
    "loop_hint_pass_check": {"zh": "核查意见（可选）", "en": "Check note (optional)"},
    "loop_hint_fail_check": {"zh": "不通过的原因", "en": "Why it fails the check"},
    "loop_hint_reassign": {"zh": "改派原因（可选）", "en": "Why (optional)"},
    "loop_hint_move": {"zh": "移动原因", "en": "Why it moves"},
    "loop_hint_confirm_duplicate": {"zh": "备注（可选）", "en": "Note (optional)"},
    "loop_hint_reject_duplicate": {"zh": "备注（可选）", "en": "Note (optional)"},
    "loop_hint_comment": {"zh": "备注内容", "en": "Your comment"},
    "search_kind_incident": {"zh": "事件", "en": "Incident"},
    "search_kind_camera": {"zh": "摄像头", "en": "Camera"},
    "search_kind_grid": {"zh": "网格", "en": "Grid"},
}
