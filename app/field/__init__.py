"""Reports from the field (现场上报): the ``/report`` form, its offline drafts and its exactly-once send."""
