"""The ``gis`` schema: the layers as views, for analysts (QGIS, read-only roles) and the OGC API.

Every view is a layer without what a reader must not see: no phone numbers, no reporter details, no
accounts (``users``, ``api_keys``, ``user_sessions`` and ``members.phone`` stay in ``public``, which a
reader role cannot read). Views run with their owner's rights, so a reader needs SELECT on the views
only (``gridwatch db reader add`` grants it); the OGC API reads the same views, so the two ports agree.

Geometries are WGS-84 (EPSG:4326) with their table's type; patrol tracks are lines built from a member's
points (one track per ``track_id``, or per local day when the points have none, and per grid it passes
through, so grid scoping never shows a part recorded in another grid; two points at least).

Revision ID: 0010_gis
Revises: 0009_console
"""
from alembic import op

revision = "0010_gis"
down_revision = "0009_console"
branch_labels = None
depends_on = None

# frozen copies (a later change to a layer is a new revision that replaces its view)
LEAD_ROLE = "lead"
LOCAL_TZ = "Asia/Shanghai"  # the district's time zone (gis.district), for tracks without a track id

VIEWS = {
    "streets": "SELECT code, name, kind, geom FROM public.streets",
    "communities": ("SELECT code, name, street_code, urban, households, population, updated_at, geom "
                    "FROM public.communities"),
    "grids": (
        "SELECT g.code, g.name, g.community_code, c.street_code, g.households, g.population, "
        "(SELECT m.name FROM public.member_roles r JOIN public.members m ON m.id = r.member_id "
        f" WHERE r.grid_code = g.code AND r.role = '{LEAD_ROLE}' ORDER BY m.id LIMIT 1) AS lead_name, "
        "g.updated_at, g.geom FROM public.grids g JOIN public.communities c ON c.code = g.community_code"),
    "cameras": (
        "SELECT device_id, name, point_name, programme, point_class, ptz_type, function_types, height_m, azimuth, "
        "fov, vfov, range_m, install_date, management_unit, record_days, address, status, source_crs, grid_code, "
        "community_code, street_code, updated_at, geom FROM public.cameras WHERE lifecycle = 'active'"),
    "planned_cameras": (
        "SELECT device_id, name, programme, azimuth, fov, range_m, height_m, address, grid_code, community_code, "
        "street_code, updated_at, geom FROM public.cameras WHERE lifecycle = 'planned'"),
    "incidents": (
        "SELECT i.id, i.external_id, i.category_code, k.name_zh AS category_name, i.source, i.description, "
        "i.address, i.priority, i.state, i.reported_at, i.dispatched_at, i.deadline, i.closed_at, i.grid_code, "
        "i.community_code, c.street_code, i.assignee_id, i.duplicate_of_id, i.updated_at, i.geom "
        "FROM public.incidents i JOIN public.categories k ON k.code = i.category_code "
        "LEFT JOIN public.communities c ON c.code = i.community_code"),
    # one line per member, track and grid: a field role sees the part of a track in its grids, as the grid
    # page draws it (points filtered by grid before the line is built), never the part in another grid
    "patrol_tracks": (
        "SELECT member_id || ':' || track_key || ':' || coalesce(grid_code, '') AS id, member_id, "
        "track_key AS track_id, grid_code, min(at) AS started_at, max(at) AS ended_at, "
        "count(*)::integer AS points, "
        "round(ST_Length(ST_MakeLine(geom ORDER BY at)::geography)::numeric, 1)::double precision AS length_m, "
        "ST_MakeLine(geom ORDER BY at)::geometry(LineString, 4326) AS geom "
        "FROM (SELECT member_id, grid_code, at, geom, "
        f"      COALESCE(track_id, to_char(at AT TIME ZONE '{LOCAL_TZ}', 'YYYY-MM-DD')) AS track_key "
        "      FROM public.patrol_points) p "
        "GROUP BY member_id, track_key, grid_code HAVING count(*) >= 2"),
    "service_centres": ("SELECT s.id, s.name, s.community_code, c.street_code, s.geom FROM public.service_centres s "
                        "LEFT JOIN public.communities c ON c.code = s.community_code"),
    "renovation_sites": ("SELECT r.id, r.name, r.community_code, c.street_code, r.households, r.geom "
                         "FROM public.renovation_sites r LEFT JOIN public.communities c ON c.code = r.community_code"),
}


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS gis")
    op.execute("COMMENT ON SCHEMA gis IS 'gridwatch layers for analysts: read-only views without personal data'")
    for name, sql in VIEWS.items():
        op.execute(f"CREATE OR REPLACE VIEW gis.{name} AS {sql}")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS gis CASCADE")
