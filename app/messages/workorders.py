"""Messages of the workorders pages (see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
}
