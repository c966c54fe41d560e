"""Camera coverage analysis and placement planning over the stored layers (issue 5).

``service`` adapts the database layers to :mod:`gis.coverage` / :mod:`gis.placement`; ``cli`` is the
``gridwatch coverage`` command group.
"""
