"""A shop written with SQLAlchemy 2 (declarative models, alembic managing the schema): every
common column type as SQLAlchemy stores it in SQLite and creates it in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Interval,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Status(enum.Enum):
    draft = "draft"
    live = "live"


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    price: Mapped[decimal.Decimal] = mapped_column(Numeric(10, 2))
    ratio: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    data: Mapped[Any] = mapped_column(JSON)
    due: Mapped[dt.date | None] = mapped_column(Date)
    at: Mapped[dt.time | None] = mapped_column(Time)
    took: Mapped[dt.timedelta | None] = mapped_column(Interval)
    status: Mapped[Status] = mapped_column(Enum(Status, name="status"))
    big: Mapped[int] = mapped_column(BigInteger)
    small: Mapped[int] = mapped_column(SmallInteger)
    blob: Mapped[bytes | None] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text, default="")


def fill(session: Any) -> None:
    acme = Tenant(name="Acme", created=dt.datetime(2024, 3, 1, 12, 0, 0, 5, tzinfo=dt.UTC))
    beta = Tenant(name="Béta", created=dt.datetime(2024, 3, 2, tzinfo=dt.UTC))
    session.add_all([acme, beta])
    session.flush()
    session.add_all([
        Item(tenant_id=acme.id, price=decimal.Decimal("12.50"), ratio=0.1, data={"a": [1, 2]},
             due=dt.date(2024, 1, 2), at=dt.time(10, 30, 5, 123),
             took=dt.timedelta(days=1, microseconds=5), status=Status.live, big=2**40,
             small=-3, blob=b"\x00\xff", note="x"),
        Item(tenant_id=beta.id, price=decimal.Decimal("0.10"), ratio=None, data=[1, None],
             status=Status.draft, big=0, small=0, took=dt.timedelta(hours=3)),
    ])
    session.commit()


def dump(session: Any) -> dict[str, list[dict[str, tuple[Any, str]]]]:
    from sqlalchemy import select

    out = {}
    for model in (Tenant, Item):
        rows = []
        for obj in session.scalars(select(model).order_by(model.id)):
            rows.append({c.key: (getattr(obj, c.key), type(getattr(obj, c.key)).__name__)
                         for c in model.__table__.columns})
        out[model.__name__] = rows
    return out
