"""Messages of the patrols pages (see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
}
