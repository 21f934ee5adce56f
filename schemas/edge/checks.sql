-- Edge case: CHECKs carried by meaning. SQLite's LIKE ignores ASCII case ('ABc' passes
-- LIKE 'ab%'); IS compares as IS NOT DISTINCT FROM (a syntax error in PostgreSQL as
-- written); a TEXT column compared with an integer compares as text; GLOB is
-- case-sensitive with classes. A SQLite-only CHECK (typeof) is listed as not carried, and a
-- CHECK that a stored row fails (written with ignore_check_constraints) is added NOT VALID.
CREATE TABLE codes (id INTEGER PRIMARY KEY,
                    code TEXT CHECK (code LIKE 'ab%'),
                    n INTEGER CHECK (n IS 1 OR n IS NULL),
                    flag TEXT CHECK (flag = 0 OR flag = 1),
                    kind TEXT CHECK (kind GLOB '[a-z]*'),
                    strict_int CHECK (typeof(strict_int) = 'integer'),
                    price INTEGER CHECK (price >= 0));
INSERT INTO codes VALUES (1, 'ABc', 1, '0', 'x', 5, 10), (2, 'abd', NULL, '1', 'y', 6, 0);
PRAGMA ignore_check_constraints = ON;
INSERT INTO codes VALUES (3, 'abe', NULL, '1', 'z', 7, -1);
PRAGMA ignore_check_constraints = OFF;
