"""Messages of the field pages (see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
}
