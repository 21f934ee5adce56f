-- Edge case: every form of default. Double-quoted strings (legal string literals in a
-- SQLite default: "" and "{}"), the time of insertion in each spelling, on text, time and
-- integer columns, constant expressions that SQLite computes, and one with no equivalent
-- (random bytes) on a NOT NULL column, reported.
CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    bio TEXT NOT NULL DEFAULT "",
    prefs JSON NOT NULL DEFAULT "{}",
    created_iso TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_text TEXT DEFAULT CURRENT_TIMESTAMP,
    created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME DEFAULT (datetime('now')),
    born DATE DEFAULT (date('now')),
    stamp INTEGER DEFAULT (unixepoch()),
    at_time TEXT DEFAULT CURRENT_TIME,
    score REAL DEFAULT (1 + 0.5),
    ranking INTEGER DEFAULT -5,
    code TEXT DEFAULT ('a' || 'b'),
    digits TEXT DEFAULT 42,
    active BOOLEAN DEFAULT TRUE,
    data BLOB DEFAULT x'00ff',
    token TEXT NOT NULL DEFAULT (lower(hex(randomblob(16))))
);
INSERT INTO authors (name, token) VALUES ('Ada', 'a1'), ('Grace', 'g2');
