"""The ``gridwatch cameras`` commands: the Skynet (天网) camera registry from the command line.

The domain lives in :mod:`camera_registry`; this package only wires it to the settings, the database
session and the grid geocoder (``app.geocoding``).
"""
