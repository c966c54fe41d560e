"""Colours and line styles shared by the layers, so a legend always matches its features."""

CAMERA_STATUS_COLOURS = {"ON": "#1a9850", "OFF": "#7f7f7f", "VLOST": "#d73027", "DEFECT": "#fdae61"}
STREET_STYLE = {"color": "#4d004b", "weight": 3, "fill": False}
COMMUNITY_STYLE = {"color": "#2166ac", "weight": 2, "fill": False, "dashArray": "6 4"}
GRID_STYLE = {"color": "#666666", "weight": 1, "fillColor": "#9ecae1", "fillOpacity": 0.08}
#: the mark of an open incident whose deadline is near (app.incidents.queries.due_soon_condition): work orders, badges
DUE_SOON_COLOUR = "#e08214"
#: a member's patrol track on the field map (sent from the phone, drawn by app/static/js/patrol.js)
PATROL_TRACK_STYLE = {"color": "#e6550d", "weight": 4, "opacity": 0.85}
