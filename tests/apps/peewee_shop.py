"""A shop written with Peewee: its BooleanField is INTEGER in SQLite, its UUIDField text, its
DecimalField a REAL there; PostgreSQL gets boolean, uuid and numeric from create_tables."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from typing import Any

import peewee

proxy = peewee.DatabaseProxy()


class Model(peewee.Model):
    class Meta:
        database = proxy


class Tenant(Model):
    uid = peewee.UUIDField(unique=True, default=uuid.uuid4)
    name = peewee.CharField(max_length=100)
    created = peewee.DateTimeField(default=dt.datetime(2024, 1, 1))


class Item(Model):
    tenant = peewee.ForeignKeyField(Tenant, backref="items")
    price = peewee.DecimalField(max_digits=10, decimal_places=2)
    active = peewee.BooleanField(default=True)
    due = peewee.DateField(null=True)
    weight = peewee.FloatField(null=True)


def fill() -> None:
    acme = Tenant.create(name="Acme", created=dt.datetime(2024, 3, 1, 12, 0, 0, 5))
    Item.create(tenant=acme, price=decimal.Decimal("12.50"), active=False,
                due=dt.date(2024, 1, 2), weight=0.5)
    Item.create(tenant=acme, price=decimal.Decimal("7.00"))


def dump() -> dict[str, list[dict[str, tuple[Any, str]]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for model in (Tenant, Item):
        out[model.__name__] = [
            {k: (v, type(v).__name__) for k, v in row.items()}
            for row in model.select().order_by(model.id).dicts()]
    return out
