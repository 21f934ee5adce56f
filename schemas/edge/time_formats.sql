-- Edge case: time values no single rule reads. Fractions beyond the microsecond, julian
-- days stored as REAL, '0000-00-00 00:00:00', and several formats in one column: none may
-- be shifted or rounded, so such columns stay text (reported).
CREATE TABLE stamps (
    id INTEGER PRIMARY KEY,
    fine DATETIME,
    julian DATETIME,
    zero DATETIME,
    assorted TIMESTAMP
);
INSERT INTO stamps VALUES
    (1, '2024-01-02 03:04:05.1234567', 2460311.5, '0000-00-00 00:00:00', '2024-01-02 03:04:05'),
    (2, '2024-01-02 03:04:05.000000001', 2451545.0, '2024-01-01 00:00:00', '02/01/2024'),
    (3, NULL, NULL, NULL, 1704164645);
