"""Outgoing webhooks (事件推送): signed JSON events for the bridges to SMS gateways and WeChat Work bots."""
