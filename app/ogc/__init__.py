"""OGC API – Features (Parts 1, 2 and 3) under ``/ogc``: every layer for QGIS, OWSLib and GDAL.

The collections read the ``gis`` schema's views (migration ``0010_gis``), the same ones analysts' read-only
database roles see, with the dashboards' accounts, roles and grid scoping.
"""
