"""A shop with every common Django field kind (the application a cutover must keep
working)."""

import uuid

from django.db import models


class Tenant(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True)
    name = models.CharField(max_length=100)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(name__gt=""),
                                              name="name_not_empty")]


class Item(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    ratio = models.FloatField(null=True)
    active = models.BooleanField(default=True)
    data = models.JSONField(default=dict)
    due = models.DateField(null=True)
    at = models.TimeField(null=True)
    took = models.DurationField(null=True)
    ip = models.GenericIPAddressField(null=True)
    big = models.BigIntegerField(default=0)
    small = models.SmallIntegerField(default=0)
    pos = models.PositiveIntegerField(default=0)
    slug = models.SlugField()
    blob = models.BinaryField(null=True)
    note = models.TextField(blank=True, default="")

    class Meta:
        unique_together = [("tenant", "slug")]
