-- The SaaS platform schema our users run, declared the way ORMs write it:
-- INTEGER PRIMARY KEY AUTOINCREMENT, VARCHAR(255), DATETIME as ISO text, BOOLEAN as 0/1,
-- JSON as text, BLOB, REAL; foreign keys to the tenant root, unique and composite indexes.
-- Filled by scripts/make_fixture.py at a chosen scale (scale 1 = 993,500 rows).
PRAGMA foreign_keys = ON;

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255) NOT NULL,
    slug VARCHAR(64) NOT NULL UNIQUE,
    plan VARCHAR(32) NOT NULL DEFAULT 'free',
    is_active BOOLEAN NOT NULL DEFAULT 1,
    settings JSON,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email VARCHAR(255) NOT NULL,
    full_name VARCHAR(255),
    role VARCHAR(32) NOT NULL DEFAULT 'member',
    is_admin BOOLEAN NOT NULL DEFAULT 0,
    last_login_at DATETIME,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, email);

CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plan VARCHAR(32) NOT NULL,
    seats INTEGER NOT NULL DEFAULT 1,
    price REAL NOT NULL,
    currency CHAR(3) NOT NULL DEFAULT 'USD',
    status VARCHAR(16) NOT NULL,
    started_at DATETIME NOT NULL,
    ends_at DATETIME
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id);

CREATE TABLE api_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    method VARCHAR(8) NOT NULL,
    path VARCHAR(255) NOT NULL,
    status_code INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    request_id VARCHAR(36) NOT NULL,
    meta JSON,
    created_at DATETIME NOT NULL
);
CREATE INDEX api_logs_tenant_created ON api_logs (tenant_id, created_at);
CREATE INDEX api_logs_user ON api_logs (user_id);

CREATE TABLE tenant_lattices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    dimensions INTEGER NOT NULL,
    payload BLOB NOT NULL,
    checksum VARCHAR(64) NOT NULL,
    updated_at DATETIME NOT NULL
);
CREATE UNIQUE INDEX tenant_lattices_tenant_name ON tenant_lattices (tenant_id, name);

CREATE TABLE lattice_operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lattice_id INTEGER NOT NULL REFERENCES tenant_lattices (id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    op VARCHAR(32) NOT NULL,
    weight REAL,
    applied BOOLEAN NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL
);
CREATE INDEX lattice_operations_lattice ON lattice_operations (lattice_id, created_at);

CREATE TABLE webhooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    url VARCHAR(2048) NOT NULL,
    secret VARCHAR(64) NOT NULL,
    events JSON NOT NULL DEFAULT '[]',
    is_active BOOLEAN NOT NULL DEFAULT 1,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    status_code INTEGER,
    attempt INTEGER NOT NULL DEFAULT 1,
    response_body TEXT,
    payload JSON NOT NULL,
    delivered_at DATETIME
);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id);
