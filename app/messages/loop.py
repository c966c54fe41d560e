"""Messages of the loop pages (see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
}
