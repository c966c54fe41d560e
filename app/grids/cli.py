"""``gridwatch geocode``, ``regeocode``, ``check-grids``, ``grids import`` and ``members list|add|assign|unassign|move``."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli import Context, crs_option, pass_ctx, report_errors

CHUNK = 50_000


@click.command("geocode")
@click.argument("infile", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("outfile", type=click.Path(dir_okay=False, path_type=Path))
@crs_option
@click.option("--lon-field", default="lon", show_default=True, help="longitude / x column of a CSV or Excel file")
@click.option("--lat-field", default="lat", show_default=True, help="latitude / y column of a CSV or Excel file")
@pass_ctx
@report_errors
def geocode_cmd(c: Context, infile: Path, outfile: Path, crs: str | None, lon_field: str, lat_field: str) -> None:
    """Add grid_code and community_code to the points of INFILE (CSV/Excel/GeoJSON/GPKG), written to OUTFILE."""
    import geopandas as gpd
    import numpy as np
    import shapely
    from tqdm import tqdm

    from app.geocoding import locate_codes
    from gis.crs import STORAGE_CRS, parse_coordinates, parse_crs
    from gis.errors import InvalidData, RowError
    from gis.io import read_table, write_frame

    table = read_table(infile)
    frame = table.frame
    if table.geometry is not None:
        geoms = np.asarray(table.geometry.to_numpy(), dtype=object)
        bad = [RowError(table.lines[i], "geometry", "not a point") for i, g in enumerate(geoms)
               if g is None or g.geom_type != "Point"]
        if bad:
            raise InvalidData(bad, source=str(infile))
        xs, ys = shapely.get_x(geoms), shapely.get_y(geoms)
        fields = ("x", "y")
        default_crs = "wgs84" if table.crs in (None, "EPSG:4326", "OGC:CRS84") else table.crs
    else:
        missing = [f for f in (lon_field, lat_field) if f not in frame.columns]
        if missing:
            raise InvalidData([RowError(None, f, f"missing column {f!r}; name the columns with --lon-field/"
                                        "--lat-field") for f in missing], source=str(infile))
        xs, ys = frame[lon_field].tolist(), frame[lat_field].tolist()
        fields = (lon_field, lat_field)
        default_crs = "wgs84"
    crs = parse_crs(crs or default_crs)
    lon, lat, errors, _ = parse_coordinates(xs, ys, table.lines, crs=crs, bbox=tuple(c.settings.district_bbox),
                                            margin_m=c.settings.extent_margin_m, fields=fields)
    if errors:
        raise InvalidData(errors, source=str(infile))
    grid_codes = np.empty(len(lon), dtype=object)
    community_codes = np.empty(len(lon), dtype=object)
    with c.db.session() as s:
        with tqdm(total=len(lon), desc="geocode", unit="pt", file=sys.stderr) as bar:
            for start in range(0, len(lon), CHUNK):
                sl = slice(start, start + CHUNK)
                grid_codes[sl], community_codes[sl] = locate_codes(s, lon[sl], lat[sl])
                bar.update(len(lon[sl]))
    out = gpd.GeoDataFrame(frame.copy(), geometry=gpd.points_from_xy(lon, lat), crs=STORAGE_CRS)
    out["grid_code"] = grid_codes
    out["community_code"] = community_codes
    if table.geometry is None and outfile.suffix.lower() in (".csv", ".xlsx"):
        out = out.drop(columns=[f for f in (lon_field, lat_field) if f not in ("lon", "lat")])
    write_frame(out, outfile)
    inside = int(sum(g is not None for g in grid_codes))
    click.echo(f"{len(out)} points, {inside} in a grid, {len(out) - inside} outside every grid → {outfile}")


@click.command("regeocode")
@pass_ctx
@report_errors
def regeocode_cmd(c: Context) -> None:
    """Recompute the grid, community (and street) codes of every stored incident and camera."""
    from app.geocoding import regeocode_cameras, regeocode_incidents

    with c.db.session() as s:
        n_inc = regeocode_incidents(s)
        n_cam = regeocode_cameras(s)
    click.echo(f"re-geocoded: {n_inc} incident(s) and {n_cam} camera(s) changed")


@click.command("check-grids")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--communities", "communities_file", type=click.Path(dir_okay=False, path_type=Path),
              help="community polygons (default: the communities in the database)")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="GeoPackage to write the problem geometries to (open it in QGIS)")
@crs_option
@click.option("--sliver-m2", default=200.0, show_default=True, type=float, help="smaller grids are slivers")
@pass_ctx
@report_errors
def check_grids_cmd(c: Context, file: Path, communities_file: Path | None, out_file: Path | None,
                    crs: str | None, sliver_m2: float) -> None:
    """Check the topology of the grid layer FILE; exit 1 when there is any problem."""
    import geopandas as gpd

    from app.grids.service import geometry_to_wgs84, projected_errors
    from gis.crs import STORAGE_CRS, parse_crs
    from gis.errors import InvalidData
    from gis.io import read_table, write_frame
    from gis.topology import check_grids

    table = read_table(file)
    if table.geometry is None or "code" not in table.frame.columns:
        raise InvalidData("a grid layer needs polygons and a 'code' column", source=str(file))
    src = crs or ("wgs84" if table.crs in (None, "EPSG:4326", "OGC:CRS84") else table.crs)
    bad = projected_errors(table.geometry.to_numpy(), table.lines, parse_crs(src))
    if bad:  # not polygons, or metres read as degrees: a topology report on them would only mislead
        raise InvalidData(bad, source=str(file))
    grids = gpd.GeoDataFrame(table.frame, geometry=geometry_to_wgs84(table.geometry.to_numpy(), src),
                             crs=STORAGE_CRS)
    if communities_file is not None:
        ct = read_table(communities_file)
        communities = gpd.GeoDataFrame(ct.frame, geometry=ct.geometry.to_numpy(), crs=ct.crs or STORAGE_CRS)
    else:
        from app.layers_db import read_layer

        with c.db.session() as s:
            communities = read_layer(s, "communities")
    report = check_grids(grids, communities, sliver_m2=sliver_m2)
    click.echo(report.summary())
    for p in report.errors:
        click.echo(f"  {p}")
    if out_file is not None:
        frame = report.to_frame()
        write_frame(frame[frame.geometry.notna()].reset_index(drop=True), out_file, layer="problems")
        click.echo(f"problem geometries → {out_file}")
    if not report.ok:
        sys.exit(1)


@click.group("grids")
def grids_group() -> None:
    """The grid layer (网格)."""


@grids_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@crs_option
@click.option("--repair", is_flag=True, help="fix invalid rings and overlaps/gaps narrower than --tolerance-m")
@click.option("--tolerance-m", default=1.0, show_default=True, type=float)
@click.option("--dry-run", is_flag=True, help="check (and repair) but write nothing")
@click.option("--replace", is_flag=True, help="FILE is the whole layer: remove every stored grid it lacks")
@click.option("--replace-community", metavar="CODE",
              help="FILE holds community CODE's grids: remove that community's stored grids it lacks")
@pass_ctx
@report_errors
def grids_import(c: Context, file: Path, crs: str | None, repair: bool, tolerance_m: float, dry_run: bool,
                 replace: bool, replace_community: str | None) -> None:
    """Import (upsert) grids from FILE; refused when the layer has topology errors (unless --repair) or a
    grid to remove (--replace, --replace-community) still has members."""
    from app.grids.service import LAYER, import_grids
    from gis.errors import InvalidData, RowError

    if replace and replace_community:
        raise InvalidData(RowError(None, "--replace", "give --replace or --replace-community, not both"))
    scope = LAYER if replace else replace_community
    with c.db.session() as s:
        result = import_grids(s, file, crs=crs, repair=repair, dry_run=dry_run, tolerance_m=tolerance_m,
                              scope=scope)
    for change in result.changes:
        click.echo(f"  repaired: {change}")
    for code in result.removed:
        click.echo(f"  {'would remove' if dry_run else 'removed'}: grid {code}")
    moved = (f"{result.moved('incident')} incident(s) and {result.moved('camera')} camera(s) "
             f"{'would change' if dry_run else 'changed'} grid")
    if dry_run:
        click.echo(f"dry run: {result.inserted} grid(s) would be added, {result.updated} updated and "
                   f"{result.removed_count} removed, {result.unchanged} unchanged; {moved}; nothing written")
        return
    click.echo(f"{result.inserted} grid(s) added, {result.updated} updated, {result.unchanged} unchanged, "
               f"{result.removed_count} removed; re-geocoded {result.incidents_changed} incident(s) and "
               f"{result.cameras_changed} camera(s); {moved}")


# -- grid members (网格员): ``gridwatch members list|add|assign|unassign|move`` (app.grids.members) ----------
@click.group("members")
def members_group() -> None:
    """Grid members (网格员) and their roles in grids (one lead per grid)."""


def _echo_change(change) -> None:
    for warning in change.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


@members_group.command("list")
@click.option("--grid", "grid_code", metavar="CODE", help="only the members of this grid")
@click.option("-q", "query", metavar="TEXT", help="name, external id or phone contains TEXT")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@pass_ctx
@report_errors
def members_list(c: Context, grid_code: str | None, query: str | None, limit: int) -> None:
    """List members: number, external id, name, phone, and their grids with roles."""
    from app.grids import members as svc

    with c.db.session() as s:
        if grid_code is not None:
            code = svc.check_grid_code(grid_code, "--grid")
            svc.grid_summary(s, code)  # NotFound for a grid that does not exist
            rows = [{**m, "grids": [{"grid_code": code, "roles": m["roles"]}]}
                    for m in svc.grid_members(s, code, show_phones=True)]
        else:
            rows = svc.search_members(s, query, show_phones=True, limit=limit)
    for m in rows:
        where = "; ".join(f"{g['grid_code']} {','.join(g['roles'])}" for g in m["grids"]) or "(no grid)"
        click.echo(f"{m['id']}\t{m['external_id'] or '-'}\t{m['name']}\t{m['phone'] or '-'}\t{where}")
    click.echo(f"{len(rows)} member(s)", err=True)


@members_group.command("add")
@click.argument("name")
@click.option("--phone", help="digits, a leading +, dashes")
@click.option("--external-id", help="the member's number in the HR or 综治 system")
@pass_ctx
@report_errors
def members_add(c: Context, name: str, phone: str | None, external_id: str | None) -> None:
    """Add a member NAME (real name); prints the new member's number."""
    from app.grids import members as svc

    with c.db.session() as s:
        m = svc.add_member(s, None, name, phone, external_id)
        click.echo(f"member {m.id} added: {m.name}" + (f" ({m.external_id})" if m.external_id else ""))


@members_group.command("assign")
@click.argument("member")
@click.argument("grid")
@click.option("--role", "roles", multiple=True, required=True, help="a role code (repeat for several): "
              "lead, publicity, security, mediator (data/reference/roles.csv)")
@click.option("--replace-lead", is_flag=True, help="with --role lead: replace the grid's lead (who keeps their other roles)")
@pass_ctx
@report_errors
def members_assign(c: Context, member: str, grid: str, roles: tuple[str, ...], replace_lead: bool) -> None:
    """Give MEMBER (number or external id) exactly these roles in GRID (assigns them if not yet in it)."""
    from app.grids import members as svc

    with c.db.session() as s:
        change = svc.set_roles(s, None, member, grid, list(roles), replace_lead=replace_lead)
        click.echo(f"member {change.member_id} in grid {svc.check_grid_code(grid)}: "
                   f"{', '.join(svc.roles_in(s, change.member_id, grid))}")
    _echo_change(change)


@members_group.command("unassign")
@click.argument("member")
@click.argument("grid")
@click.option("--successor", metavar="MEMBER", help="when MEMBER leads GRID: who becomes its lead")
@pass_ctx
@report_errors
def members_unassign(c: Context, member: str, grid: str, successor: str | None) -> None:
    """Take MEMBER out of GRID (every role there); the lead needs --successor."""
    from app.grids import members as svc

    with c.db.session() as s:
        change = svc.unassign(s, None, member, grid, successor=successor)
    click.echo(f"member {change.member_id} unassigned from grid {grid}")
    _echo_change(change)


@members_group.command("move")
@click.argument("member")
@click.argument("from_grid", metavar="FROM")
@click.argument("to_grid", metavar="TO")
@click.option("--successor", metavar="MEMBER", help="when MEMBER leads FROM: who becomes its lead")
@click.option("--replace-lead", is_flag=True, help="when MEMBER leads FROM and TO has a lead: replace it")
@pass_ctx
@report_errors
def members_move(c: Context, member: str, from_grid: str, to_grid: str, successor: str | None,
                 replace_lead: bool) -> None:
    """Move MEMBER from grid FROM to grid TO with their roles, in one transaction."""
    from app.grids import members as svc

    with c.db.session() as s:
        change = svc.move(s, None, member, from_grid, to_grid, successor=successor, replace_lead=replace_lead)
        click.echo(f"member {change.member_id} moved from {from_grid} to {to_grid}: "
                   f"{', '.join(svc.roles_in(s, change.member_id, to_grid))}")
    _echo_change(change)


COMMANDS = [geocode_cmd, regeocode_cmd, check_grids_cmd, grids_group, members_group]
