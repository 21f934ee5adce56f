-- Edge case: COLLATE NOCASE. SQLite folds ASCII letters only: 'Äpfel' and 'äpfel' are two
-- values of a unique NOCASE column, where 'Pear' and 'PEAR' would be one. A NOCASE primary
-- key, a NOCASE unique constraint, and plain NOCASE columns the application looks up by
-- equality ('ADMINISTRATOR' finds 'Administrator') and with LIKE.
CREATE TABLE fruits (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE);
CREATE UNIQUE INDEX fruits_name ON fruits (name);
INSERT INTO fruits (name) VALUES ('Äpfel'), ('äpfel'), ('Pear');
CREATE TABLE roles (code TEXT PRIMARY KEY COLLATE NOCASE,
                    title TEXT COLLATE NOCASE UNIQUE, note TEXT);
INSERT INTO roles VALUES ('admin', 'Administrator', 'all'), ('User', 'Plain user', NULL);
CREATE TABLE people (id INTEGER PRIMARY KEY, role TEXT COLLATE NOCASE,
                     nick VARCHAR(20) COLLATE NOCASE);
CREATE INDEX people_nick ON people (nick);
INSERT INTO people VALUES (1, 'Administrator', 'Bob'), (2, 'user', 'alice'),
                          (3, NULL, 'Élodie');
