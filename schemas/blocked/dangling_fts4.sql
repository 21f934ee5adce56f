-- A virtual table SQLite itself cannot read: an FTS4 table whose external content table
-- ("searchable") does not exist. plan names it as a blocker; run --exclude skips it and
-- migrates the rest.
CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT);
INSERT INTO docs VALUES (1, 'hello'), (2, 'world');
CREATE VIRTUAL TABLE search USING fts4(body, content="searchable");
