"""Settings of the test shop: SQLite (SHOP_SQLITE) or PostgreSQL (SHOP_PG, a conninfo)."""

import os

SECRET_KEY = "test"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "shop"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
if os.environ.get("SHOP_PG"):
    from psycopg.conninfo import conninfo_to_dict

    _pg = conninfo_to_dict(os.environ["SHOP_PG"])
    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                             "NAME": _pg["dbname"], "USER": _pg.get("user", ""),
                             "HOST": _pg.get("host", ""), "PORT": _pg.get("port", "")}}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                             "NAME": os.environ["SHOP_SQLITE"]}}
