"""The legacy ``devices`` table and how its columns and codes map to a TMF639 resource."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

DEVICES = sa.Table(
    "devices",
    metadata,
    sa.Column("device_id", sa.String(64), primary_key=True),
    sa.Column("hostname", sa.String(255), nullable=False),
    sa.Column("device_class", sa.String(64)),
    sa.Column("notes", sa.Text),
    sa.Column("fw_version", sa.String(64)),
    sa.Column("state_code", sa.String(3)),
    sa.Column("commissioned_at", sa.DateTime),
)

# TMF639 attribute -> column; every other attribute has no place in the table.
COLUMNS: dict[str, sa.Column[object]] = {
    "id": DEVICES.c.device_id,
    "name": DEVICES.c.hostname,
    "category": DEVICES.c.device_class,
    "description": DEVICES.c.notes,
    "resourceVersion": DEVICES.c.fw_version,
    "resourceStatus": DEVICES.c.state_code,
    "startOperatingDate": DEVICES.c.commissioned_at,
}

# resourceStatus (TMF639 ResourceStatusType) <-> the table's three-letter codes.
STATUS_CODES = {
    "available": "AVL",
    "reserved": "RSV",
    "standby": "STB",
    "alarm": "ALM",
    "suspended": "SUS",
    "unknown": "UNK",
}
STATUSES = {code: status for status, code in STATUS_CODES.items()}
