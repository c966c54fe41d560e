"""``gridwatch coverage``: report, blind-spots, roads, plan, sees, replace-id (thin layer over ``app.coverage.service``
and ``camera_registry.planned``)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from app.cli import Context, pass_ctx, report_errors

OUT_SUFFIXES = (".csv", ".xlsx", ".gpkg", ".geojson")


def _out_option(fn):
    return click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help=f"write the table to FILE ({', '.join(OUT_SUFFIXES)})")(fn)


def _common(fn):
    fn = click.option("--include-offline", is_flag=True, help="count OFF / VLOST / DEFECT cameras as seeing")(fn)
    return click.option("--occlusion", is_flag=True, help="cut views at buildings (the buildings layer)")(fn)


def _check_out(out: Path | None) -> None:
    from gis.errors import InvalidData

    if out is not None and out.suffix.lower() not in OUT_SUFFIXES:
        raise InvalidData(f"--out {out}: use a {', '.join(OUT_SUFFIXES)} file", source=str(out))


def _write(frame, out: Path, *, layer: str) -> None:
    """Write through ``gis.io``; tables (CSV/Excel) carry each area's representative point as lon/lat."""
    from gis.io import write_frame

    if out.suffix.lower() in (".csv", ".xlsx") and not (frame.geometry.geom_type == "Point").all():
        frame = frame.set_geometry(frame.geometry.representative_point())
    style = None
    if out.suffix.lower() == ".gpkg" and "ratio" in frame.columns:  # QGIS opens it as the planner's choropleth
        from app.layers_db import layer_style

        style = layer_style("coverage")
    write_frame(frame, out, layer=layer, style=style)
    click.echo(f"wrote {len(frame)} row(s) → {out}")


def _days_option(fn):
    # no default here: the service's (DEMAND_DAYS, one year) is the one definition
    return click.option("--days", type=click.IntRange(1, 36500), default=None,
                        help="weigh the incidents of the last DAYS days up to the newest (default: one year; "
                             "voided ones never)")(fn)


def _days(days: int | None) -> dict:
    return {} if days is None else {"days": days}


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, leave=False)


@click.group("coverage")
def coverage_group() -> None:
    """Camera coverage (视频覆盖): figures per area, blind spots, roads, new sites, who sees a spot."""


@coverage_group.command("report")
@click.option("--by", type=click.Choice(["grid", "community", "street"]), default="grid", show_default=True)
@_out_option
@_common
@_days_option
@pass_ctx
@report_errors
def report_cmd(c: Context, by: str, out: Path | None, include_offline: bool, occlusion: bool,
               days: int | None) -> None:
    """Area, covered area, ratio, area seen twice and incidents in view, per grid/community/street."""
    from app.coverage import service

    _check_out(out)
    with _progress(1, f"coverage by {by}") as bar, c.db.session() as s:
        rep = service.coverage_report(s, by=by, include_offline=include_offline, occlusion=occlusion,
                                      cache_dir=c.settings.var_path / "cache" / "coverage", **_days(days))
        bar.update()
    area, covered = rep["area_m2"].sum(), rep["covered_m2"].sum()
    click.echo(f"{len(rep)} {by} area(s): {covered / 1e6:.3f} of {area / 1e6:.3f} km² covered "
               f"({covered / area:.1%} overall; {rep['redundant_m2'].sum() / 1e6:.3f} km² seen twice or more); "
               f"{int(rep['seen_incidents'].sum())} of {int(rep['incidents'].sum())} incidents of "
               f"{rep.attrs['days']} days in view; "
               f"{rep.attrs['recomputed']} area(s) recomputed, {len(rep) - rep.attrs['recomputed']} from cache")
    cols = ["code", "name", "area_m2", "covered_m2", "ratio", "redundant_m2", "incidents", "unseen_incidents",
            "seen_share"]
    if out is not None:
        _write(rep[cols + [rep.geometry.name]], out, layer=f"coverage_by_{by}")
    else:
        click.echo("least covered (equal ratios: most incidents out of view first, then the largest):")
        click.echo(service.least_covered(rep, 10)[cols].to_string(index=False))


@coverage_group.command("blind-spots")
@click.option("--by", type=click.Choice(["grid", "community", "street"]), default="grid", show_default=True)
@click.option("--min-area", "min_area", type=float, default=1.0, show_default=True, help="smallest spot kept (m²)")
@_out_option
@_common
@pass_ctx
@report_errors
def blind_spots_cmd(c: Context, by: str, min_area: float, out: Path | None, include_offline: bool,
                    occlusion: bool) -> None:
    """The uncovered parts of each area (盲区) as polygons, largest first."""
    from app.coverage import service

    _check_out(out)
    with c.db.session() as s:
        spots = service.blind_spot_report(s, by=by, include_offline=include_offline, occlusion=occlusion,
                                          min_area_m2=min_area)
    click.echo(f"{len(spots)} blind spot(s), {spots['area_m2'].sum() / 1e6:.3f} km² in all")
    if out is not None:
        _write(spots, out, layer="blind_spots")
    else:
        click.echo(spots.drop(columns=spots.geometry.name).head(10).to_string(index=False))


@coverage_group.command("roads")
@_out_option
@_common
@pass_ctx
@report_errors
def roads_cmd(c: Context, out: Path | None, include_offline: bool, occlusion: bool) -> None:
    """Share of each road's length within camera view."""
    import geopandas as gpd

    from app.coverage import service
    from app.layers_db import read_layer

    _check_out(out)
    with c.db.session() as s:
        table = service.road_report(s, include_offline=include_offline, occlusion=occlusion)
        geoms = read_layer(s, "roads").set_index("code").geometry
    click.echo(f"{len(table)} road(s): {table['covered_m'].sum() / 1000:.1f} of {table['length_m'].sum() / 1000:.1f} "
               f"km in view")
    if out is not None:
        _write(gpd.GeoDataFrame(table, geometry=geoms.loc[table["code"]].to_numpy(), crs=4326), out, layer="roads")
    else:
        click.echo(table.sort_values("share").head(10).to_string(index=False))


@coverage_group.command("plan")
@click.option("--add", "k", type=click.IntRange(1, 500), default=None, help="number of new camera sites to choose")
@click.option("--target", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="also find the fewest new sites reaching this share of demand (e.g. 0.8)")
@click.option("--demand", type=click.Choice(["incidents", "area"]), default="incidents", show_default=True,
              help="incidents weighted by category (the last --days days), or area (50 m cells)")
@click.option("--range-m", type=click.FloatRange(1, 1000), default=100.0, show_default=True,
              help="view range of a new dome camera (m)")
@click.option("--include-offline", is_flag=True, help="count OFF / VLOST / DEFECT cameras as covering")
@_days_option
@_out_option
@pass_ctx
@report_errors
def plan_cmd(c: Context, k: int | None, target: float | None, demand: str, range_m: float, include_offline: bool,
             days: int | None, out: Path | None) -> None:
    """Choose new camera sites at road intersections (maximal covering, spopt + CBC)."""
    from app.coverage import service

    if k is None and target is None:
        raise click.UsageError("give --add K (sites to choose) and/or --target SHARE (e.g. 0.8)")
    _check_out(out)
    results = []
    with _progress((k is not None) + (target is not None), "planning") as bar, c.db.session() as s:
        if k is not None:
            results.append(("best", service.plan(s, k, demand=demand, range_m=range_m,
                                                 include_offline=include_offline, **_days(days))))
            bar.update()
        if target is not None:
            results.append(("target", service.min_sites(s, target, demand=demand, range_m=range_m,
                                                        include_offline=include_offline, **_days(days))))
            bar.update()
    unit = "weighted incidents" if demand == "incidents" else "m²"
    for what, res in results:
        if what == "best":
            click.echo(f"{len(res.sites)} new site(s) for {demand} demand: coverage {res.share_before:.1%} → "
                       f"{res.share_after:.1%} (+{res.new_demand:,.1f} {unit}); sites in greedy order of the "
                       "optimal set:")
        else:
            click.echo(f"at least {res.k} new site(s) reach {target:.0%} of {demand} demand "
                       f"({res.share_before:.1%} → {res.share_after:.1%})")
        for note in res.notes:
            click.echo(f"note: {note}")
        for row in res.sites.itertuples():
            click.echo(f"  {row.rank:>3}. lon {row.geometry.x:.6f} lat {row.geometry.y:.6f} grid {row.code or '-'} "
                       f"+{row.gain:,.1f} {unit} → {row.share:.1%}")
    if out is not None:
        _write(results[0][1].sites, out, layer="proposed_sites")


@coverage_group.command("sees")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@_common
@pass_ctx
@report_errors
def sees_cmd(c: Context, lon: float, lat: float, include_offline: bool, occlusion: bool) -> None:
    """The cameras that see LON LAT (WGS-84) nearest first, then those that would after a PTZ turn."""
    from app.coverage import service
    from gis.errors import InvalidData

    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise InvalidData(f"{lon} {lat}: not a WGS-84 lon/lat; give longitude first, e.g. 104.77 29.37")
    with c.db.session() as s:
        seen = service.cameras_seeing(s, lon, lat, include_offline=include_offline, occlusion=occlusion)
    if not len(seen):
        click.echo("no camera sees this spot, even after a turn")
        return
    for row in seen.itertuples():
        how = "sees" if row.sees else "after turn"
        click.echo(f"{row.device_id} {how:<10} {row.distance_m:7.1f} m  bearing {row.bearing_deg:5.1f}°  "
                   f"{row.status}  {row.name}")


@coverage_group.command("replace-id")
@click.argument("provisional")
@click.argument("real")
@pass_ctx
@report_errors
def replace_id_cmd(c: Context, provisional: str, real: str) -> None:
    """A planned camera is installed: give it the device's real ID REAL in place of its PROVISIONAL one
    (its events and revisions follow); set it ON afterwards to commission it."""
    from app.db import audit_actor
    from camera_registry import planned

    with c.db.session() as s:
        cam = planned.replace_provisional_id(s, provisional.strip(), real, actor=audit_actor() or "cli",
                                             district=c.district)
        s.commit()
        click.echo(f"planned camera {provisional.strip()} is now {cam.device_id}; "
                   f"`gridwatch cameras status {cam.device_id} ON` commissions it once it works")


COMMANDS = [coverage_group]
