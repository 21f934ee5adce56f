"""Steps the tests run in a process of their own (Django sets up once per process):
fill | dump | use | evolve. dump prints every object as JSON (value and Python type)."""

import datetime as dt
import decimal
import json
import sys
import uuid

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.db.models import F, Sum  # noqa: E402

from shop.models import Item, Tenant  # noqa: E402


def fill() -> None:
    User.objects.create_user("ada", "ada@example.com", "pw")
    acme = Tenant.objects.create(name="Acme")
    beta = Tenant.objects.create(name="Béta")
    Item.objects.create(tenant=acme, price=decimal.Decimal("12.50"), ratio=0.1,
                        data={"a": [1, 2], "k": "v"}, due=dt.date(2024, 1, 2),
                        at=dt.time(10, 30, 5, 123), took=dt.timedelta(days=1, microseconds=5),
                        ip="::1", big=2**40, small=-3, pos=7, slug="s1", blob=b"\x00\xff",
                        note="line\nbreak, \"quoted\"")
    Item.objects.create(tenant=acme, price=decimal.Decimal("0.10"), slug="s2", ip="10.0.0.1",
                        active=False, took=dt.timedelta(hours=3))
    Item.objects.create(tenant=beta, price=decimal.Decimal("99999999.99"), slug="s1",
                        data=[1, "x", None], ratio=-0.0, note="")


def dump() -> None:
    out = {}
    for model in (Tenant, Item, User):
        rows = []
        for obj in model.objects.order_by("pk").values():
            rows.append({k: [repr(v), type(v).__name__] for k, v in obj.items()})
        out[model.__name__] = rows
    print(json.dumps(out, sort_keys=True))


def use() -> None:
    """The application's queries and writes, on whatever database it runs."""
    acme = Tenant.objects.get(name="Acme")
    assert Tenant.objects.get(uuid=uuid.UUID(str(acme.uuid))) == acme
    assert Item.objects.filter(data__a__0=1).count() == 1
    assert Item.objects.filter(data__k="v").count() == 1
    assert Item.objects.aggregate(total=Sum("price"))["total"] == decimal.Decimal("100000012.59")
    assert Item.objects.filter(took__gt=dt.timedelta(hours=2)).count() == 2
    assert Item.objects.filter(tenant__created__date=acme.created.date()).count() >= 2
    longer = Item.objects.filter(took__isnull=False).annotate(
        more=F("took") + dt.timedelta(seconds=1)).order_by("pk").first()
    assert longer is not None and longer.more == dt.timedelta(days=1, seconds=1,
                                                                microseconds=5)
    gamma = Tenant.objects.create(name="Gamma")  # ids continue past the loaded ones
    assert gamma.pk == 3
    item = Item.objects.create(tenant=gamma, price=decimal.Decimal("1.10"), slug="new")
    item.ratio = 2.5
    item.save()
    assert User.objects.get(username="ada").check_password("pw")
    print("ok")


def evolve() -> None:
    """The next deploy's migration: a new column and a unique constraint dropped."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.db.migrations.migration import Migration
    from django.db import migrations, models

    class Next(Migration):
        dependencies = [("shop", "0001_initial")]
        operations = [
            migrations.AddField("item", "sku", models.CharField(max_length=20, default="")),
            migrations.AlterUniqueTogether("item", set()),
            migrations.RemoveConstraint("tenant", "name_not_empty"),
        ]

    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(("shop", "0001_initial"))
    with connection.schema_editor() as editor:
        Next("0002_next", "shop").apply(state, editor)
    print("ok")


{"fill": fill, "dump": dump, "use": use, "evolve": evolve}[sys.argv[1]]()
