-- Edge case: keys and constraints. Rowid alias with gaps; AUTOINCREMENT with
-- sqlite_sequence ahead of max(id); composite and WITHOUT ROWID primary keys; a TEXT
-- primary key holding NULL (a legacy SQLite quirk); a table without a key holding
-- duplicate rows; foreign keys with actions, DEFERRABLE INITIALLY DEFERRED, a
-- self-reference, a reference to a UNIQUE non-PK column, a composite reference and an
-- orphan row; portable and SQLite-only CHECKs; UNIQUE COLLATE NOCASE; a partial unique
-- index, an expression index and a DESC index; an untyped primary key holding both 1 and
-- '1' (distinct in SQLite, equal as text: the key becomes a non-unique index, reported).
CREATE TABLE accounts (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT UNIQUE NOT NULL,
                       email TEXT COLLATE NOCASE, balance INTEGER CHECK (balance >= 0),
                       kind TEXT CHECK (kind GLOB '[a-z]*'));
INSERT INTO accounts VALUES (1, 'A', 'a@x', 5, 'p'), (5, 'B', 'B@x', 0, 'q'),
                            (9, 'C', NULL, 7, 'r');
UPDATE sqlite_sequence SET seq = 100 WHERE name = 'accounts';
CREATE UNIQUE INDEX accounts_email ON accounts (email COLLATE NOCASE);
CREATE UNIQUE INDEX accounts_active_code ON accounts (code) WHERE balance > 0;
CREATE INDEX accounts_lower_code ON accounts (lower(code));
CREATE INDEX accounts_balance_desc ON accounts (balance DESC, id);
CREATE TABLE pairs (a INTEGER, b TEXT, note TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID;
INSERT INTO pairs VALUES (1, 'x', 'one'), (1, 'y', 'two'), (2, 'x', NULL);
CREATE TABLE legacy (k TEXT PRIMARY KEY, v INTEGER);
INSERT INTO legacy VALUES ('a', 1), (NULL, 2), (NULL, 3);
CREATE TABLE loose (k PRIMARY KEY, v TEXT);
INSERT INTO loose VALUES (1, 'the integer'), ('1', 'the text'), (2.5, 'a real');
CREATE TABLE dupes (a INTEGER, b TEXT);
INSERT INTO dupes VALUES (1, 'x'), (1, 'x'), (2, NULL);
CREATE TABLE nodes (id INTEGER PRIMARY KEY,
                    parent_id INTEGER REFERENCES nodes (id) ON DELETE CASCADE,
                    account_code TEXT REFERENCES accounts (code) ON UPDATE CASCADE
                        DEFERRABLE INITIALLY DEFERRED,
                    pa INTEGER, pb TEXT,
                    FOREIGN KEY (pa, pb) REFERENCES pairs (a, b) ON DELETE SET NULL);
INSERT INTO nodes VALUES (1, NULL, 'A', 1, 'x'), (2, 1, 'B', 1, 'y'), (3, 2, NULL, NULL, NULL),
                         (4, 99, 'Z', 2, 'x');
