-- Edge case: affinity and mixed storage. An untyped column holding every storage class;
-- text stored in an INTEGER column; STRING (NUMERIC affinity) and FLOATING POINT (INTEGER
-- affinity: it contains "INT"); VARCHAR(n) and DECIMAL values that overflow the
-- declaration; a DATETIME column holding non-dates; -0.0 and doubles needing 17 digits
-- in a column that becomes text (the text must denote the very same double).
CREATE TABLE mixed (
    id INTEGER PRIMARY KEY,
    anything,
    count_ INTEGER,
    code STRING,
    ratio FLOATING POINT,
    short VARCHAR(3),
    price DECIMAL(5,2),
    happened DATETIME
);
INSERT INTO mixed VALUES
    (1, 1, 10, '007', 1.5, 'abc', 1.25, '2024-01-02 03:04:05'),
    (2, 'text', 'n/a', 'x', 2, 'abcdef', 123.456, 'yesterday'),
    (3, 2.5, 30, 42, 3.25, NULL, 99999.5, NULL),
    (4, x'00ff', NULL, NULL, NULL, 'x', NULL, '2024-02-30 00:00:00'),
    (5, NULL, 50, '', 0, '', 0, ''),
    (6, -0.0, 60, 'y', 0.30000000000000004, 'ab', 1, '2024-01-01'),
    (7, 5e-324, 70, 'z', -1.5, 'a', 2, NULL);
