"""What Alembic compares: our tables, not PostGIS's own (spatial_ref_sys, topology, tiger)."""
from geoalchemy2 import alembic_helpers

POSTGIS_TABLES = {"spatial_ref_sys"}


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and reflected and name in POSTGIS_TABLES:
        return False
    return alembic_helpers.include_object(obj, name, type_, reflected, compare_to)
