"""The audit log (审计日志): every change to the district's records, written by the database itself."""
