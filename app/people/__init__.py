"""People (人员与账号): the administration hub (/admin), accounts and their API keys (/admin/users)."""
