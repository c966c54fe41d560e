"""Messages of the webhooks pages (see app.messages)."""

MESSAGES: dict[str, dict[str, str]] = {
}
