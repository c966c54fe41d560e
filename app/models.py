"""Every table of the system, for Alembic and for tests: importing this registers all models."""
from app.accounts.models import ApiKey, LoginAttempt, User, UserSession  # noqa: F401
from app.audit.models import AuditEntry  # noqa: F401
from app.db import Base
from app.deployment import Deployment  # noqa: F401
from app.grids.models import (Building, Community, Grid, Member, MemberRole, MemberRoleType, RenovationSite, Road,  # noqa: F401
                              ServiceCentre, Street)
from app.incidents.models import Category, Incident, IncidentEvent, IncidentSource  # noqa: F401
from app.patrols.models import PatrolPoint  # noqa: F401
from app.photos.models import IncidentPhoto  # noqa: F401
from app.webhooks.models import WebhookCursor, WebhookDelivery  # noqa: F401
from camera_registry.models import Base as CameraBase
from camera_registry.models import Camera, CameraEvent, CameraRevision, Programme  # noqa: F401

METADATA = [Base.metadata, CameraBase.metadata]
