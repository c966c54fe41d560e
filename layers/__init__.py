"""Folium layer builders: one function per map layer, each returning a ``folium.FeatureGroup``.

No database and no Flask here: builders take GeoDataFrames (EPSG:4326) and return Folium elements.
"""
