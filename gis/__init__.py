"""Geometry and analysis for gridwatch: coordinate systems, codes, geocoding, topology, coverage.

Pure functions over NumPy arrays and GeoDataFrames; nothing here touches a database or Flask.
"""
