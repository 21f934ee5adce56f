-- Edge case: text PostgreSQL text cannot hold, and bytes in the wrong places. Text with NUL
-- bytes and text that is not valid UTF-8 (the column must become bytea, reported); blobs
-- holding text and a TEXT column holding a blob; a 3 MB text value.
CREATE TABLE payloads (
    id INTEGER PRIMARY KEY,
    with_nul TEXT,
    not_utf8 TEXT,
    blob_text BLOB,
    text_blob TEXT,
    big TEXT
);
INSERT INTO payloads VALUES
    (1, 'a' || char(0) || 'b', CAST(x'c328' AS TEXT), CAST('plain text' AS BLOB), 'ok',
     replace(hex(zeroblob(1500000)), '0', 'x')),
    (2, 'no nul here', 'valid é', x'00ff10', x'deadbeef', ''),
    (3, NULL, NULL, NULL, NULL, NULL);
