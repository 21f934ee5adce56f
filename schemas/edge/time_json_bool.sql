-- Edge case: time, JSON and booleans. ISO text with a space or 'T', fractions, 'Z' and
-- offsets; epoch integers; an impossible date; booleans as 0/1 and as words; JSON that
-- jsonb keeps (the same key in different objects is fine), JSON holding \u0000 (jsonb
-- rejects it), objects with duplicate keys (jsonb keeps only the last: the column must
-- become json, kept as written) and text that is not JSON.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    naive DATETIME,
    zoned TIMESTAMP,
    epoch DATETIME,
    bad_date DATETIME,
    day DATE,
    flag BOOLEAN,
    word_flag BOOL,
    doc JSON,
    nul_doc JSON,
    not_json JSON,
    dup_doc JSON
);
INSERT INTO events VALUES
    (1, '2024-01-02 03:04:05', '2024-01-02T03:04:05Z', 1700000000, '2024-02-30 00:00:00',
     '2024-01-02', 1, 'yes', '{"a": [1, 2.5, "x"], "big": 123456789012345678901234567890}',
     '{"k": "a\u0000b"}', '{broken', '{"a": 1, "b": 2}'),
    (2, '2024-01-02T03:04:05.123456', '2024-06-30 23:59:59.5+02:00', 0, '2024-01-01 00:00:00',
     '1999-12-31', 0, 'no', '[{"id": 1}, {"id": 2}]', '1', 'plain',
     '{"x": {"c": 1, "c": 2}}'),
    (3, NULL, '2024-01-02 03:04:05', NULL, NULL, NULL, NULL, 't', 'null', NULL, NULL,
     '{"a": 1, "a": 2}');
