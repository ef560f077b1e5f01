"""Eldercare's registry of monitoring devices (智能监测设备): smoke and gas detectors, fall sensors, emergency call
buttons, door sensors, each known by the id its monitoring platform gives it, and the elders it has been installed
for. The platform knows devices, not people: an alarm names a device, and the registry says whose home it is in
on the alarm's day (``rules.installation_on``)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Table, UniqueConstraint
from sqlmodel import Field as Column

from civic.db import table_of
from civic.ids import new_id
from services.eldercare.models import now
from services.eldercare.rules import DeviceStatus
from services.eldercare.tables import ElderTable


class MonitoringDevice(ElderTable, table=True):
    """A device and where it is now. ``installations`` counts its spans: a move is a conditional UPDATE on it (and
    a retirement one on the status), so two caseworkers moving or retiring the same device at once cannot both."""

    __tablename__ = "monitoring_device"

    device_id: str = Column(primary_key=True, max_length=64)  # the platform's own id: stable, unique for ever
    kind: str = Column(max_length=30)
    resident_id: str = Column(max_length=18, index=True)  # the elder it is (or last was) installed for
    status: str = Column(default=DeviceStatus.INSTALLED, max_length=20, index=True)
    installations: int = 1
    # The death registration that made the device due for removal: its revocation puts the device back.
    removal_due_by_death: str | None = Column(default=None, max_length=64, index=True)
    registered_by: str = Column(max_length=100)
    registered_at: datetime = Column(default_factory=now)
    retired_on: date | None = None
    retire_reason: str | None = Column(default=None, max_length=500)


class DeviceInstallation(ElderTable, table=True):
    """One span of a device at one elder's home, kept when the device moves on or is retired (the history an
    alarm reported late is resolved against)."""

    __tablename__ = "device_installation"
    __table_args__ = (UniqueConstraint("device_id", "seq"),)

    id: str = Column(default_factory=new_id, primary_key=True)
    device_id: str = Column(foreign_key="monitoring_device.device_id", max_length=64, index=True)
    seq: int
    resident_id: str = Column(max_length=18, index=True)
    installed_on: date
    removed_on: date | None = None  # the first day it no longer was there
    ended_by: str | None = Column(default=None, max_length=20)  # moved | retired
    region_code: str = Column(max_length=6)
    community: str = Column(default="", max_length=100)
    address: str = Column(default="", max_length=200)
    recorded_by: str = Column(max_length=100)
    recorded_at: datetime = Column(default_factory=now)


DEVICE_TABLES: list[Table] = [table_of(m) for m in (MonitoringDevice, DeviceInstallation)]
