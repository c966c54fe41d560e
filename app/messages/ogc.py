"""Messages of the OGC API's HTML pages (/ogc; see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
    "ogc_home": {"zh": "OGC API 要素服务", "en": "OGC API – Features"},
    "ogc_collections": {"zh": "图层", "en": "Collections"},
    "ogc_conformance": {"zh": "符合性", "en": "Conformance"},
    "ogc_api": {"zh": "接口定义", "en": "API definition"},
    "ogc_items": {"zh": "要素", "en": "Features"},
    "ogc_queryables": {"zh": "可查询字段", "en": "Queryables"},
    "ogc_as_json": {"zh": "JSON 格式", "en": "As JSON"},
    "ogc_next": {"zh": "下一页", "en": "Next page"},
    "ogc_prev": {"zh": "上一页", "en": "Previous page"},
    "ogc_matched": {"zh": "共 {matched} 个要素，本页 {returned} 个",
                    "en": "{matched} features, {returned} on this page"},
    "ogc_property": {"zh": "属性", "en": "Property"},
    "ogc_value": {"zh": "值", "en": "Value"},
    "ogc_type": {"zh": "类型", "en": "Type"},
    "ogc_readers": {"zh": "可读角色", "en": "Readers"},
    "ogc_no_features": {"zh": "没有符合条件的要素", "en": "No features match"},
}
