-- Edge case: tenant order. The copy reads each table with a tenant key in (tenant key,
-- rowid) order, and a resumed copy continues after the last (key, rowid) committed; these
-- keys must sort and compare as SQLite does: NULL keys (first), an integer key with rows
-- inserted interleaved, a text key under COLLATE NOCASE ('Acme' and 'ACME' are one
-- tenant), an untyped key holding integers, reals and texts (SQLite orders numbers before
-- texts), a WITHOUT ROWID table (kept in its key order), and the root itself.
CREATE TABLE orgs (id INTEGER PRIMARY KEY, code TEXT UNIQUE NOT NULL);
INSERT INTO orgs VALUES (1, 'acme'), (2, 'beta'), (3, 'Gamma'), (10, '10'), (11, 'x');
CREATE TABLE members (id INTEGER PRIMARY KEY, org_id INTEGER REFERENCES orgs (id),
                      name TEXT NOT NULL);
INSERT INTO members VALUES (1, 2, 'b1'), (2, 1, 'a1'), (3, NULL, 'nobody'), (4, 10, 'd1'),
                           (5, 2, 'b2'), (6, 1, 'a2'), (7, NULL, 'nobody2'), (8, 3, 'g1'),
                           (9, 10, 'd2'), (10, 1, 'a3');
CREATE TABLE notes (id INTEGER PRIMARY KEY,
                    org_code TEXT COLLATE NOCASE REFERENCES orgs (code),
                    body TEXT);
INSERT INTO notes VALUES (1, 'beta', 'n1'), (2, 'ACME', 'n2'), (3, 'acme', 'n3'),
                         (4, NULL, 'n4'), (5, 'Beta', 'n5'), (6, 'gamma', 'n6'),
                         (7, 'Acme', 'n7');
CREATE TABLE events (id INTEGER PRIMARY KEY, org REFERENCES orgs (code), what TEXT);
INSERT INTO events VALUES (1, 10, 'e1'), (2, 'x', 'e2'), (3, 2, 'e3'), (4, 2.5, 'e4'),
                          (5, NULL, 'e5'), (6, 10, 'e6'), (7, 'a', 'e7'), (8, 2, 'e8'),
                          (9, 'x', 'e9'), (10, 2.5, 'e10');
CREATE TABLE tags (org_id INTEGER REFERENCES orgs (id), tag TEXT,
                   PRIMARY KEY (org_id, tag)) WITHOUT ROWID;
INSERT INTO tags VALUES (2, 'z'), (1, 'y'), (10, 'x'), (1, 'a');
