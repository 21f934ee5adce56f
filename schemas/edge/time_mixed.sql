-- Edge case: one time grammar for every column. Dates alone beside datetimes (the '-01'
-- at the end of a date is not a UTC offset), dates alone beside times with offsets, hh:mm
-- without seconds; integers that only epoch seconds or only epoch milliseconds explain
-- (Prisma writes milliseconds) become times, small integers (0, 2024) stay numbers.
CREATE TABLE happenings (
    id INTEGER PRIMARY KEY,
    dated DATETIME,
    zoned_and_dated TIMESTAMP,
    minutes DATETIME,
    small DATETIME,
    epoch_s DATETIME,
    epoch_ms DATETIME
);
INSERT INTO happenings VALUES
    (1, '2024-01-01', '2024-01-01', '2024-01-01 10:30', 0, 1700000000, 1700000000123),
    (2, '2024-01-01 10:00:00', '2024-03-31T02:30:00+02:00', '2024-01-01T23:59', 2024,
     1000000000, 1000000000000),
    (3, '2024-12-31T23:59:59.999999', '2024-06-30 12:00:00Z', NULL, NULL, NULL, NULL);
