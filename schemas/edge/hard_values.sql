-- Edge case: hard values that must round-trip exactly: the full int64 range, REAL
-- infinities, max double, subnormals, 0.1; '' vs NULL and x'' vs NULL; COPY's traps in
-- text (\N, \., backslashes, CR/LF, tabs, control characters) and 4-byte characters.
CREATE TABLE ints (id INTEGER PRIMARY KEY, v INTEGER);
INSERT INTO ints VALUES (1, -9223372036854775808), (2, 9223372036854775807), (3, 0),
                        (4, NULL), (5, -1);
CREATE TABLE reals (id INTEGER PRIMARY KEY, v REAL);
INSERT INTO reals VALUES (1, 9e999), (2, -9e999), (3, 1.7976931348623157e308),
                         (4, 4.9406564584124654e-324), (5, 0.1), (6, 276.03), (7, NULL),
                         (8, 2.2250738585072014e-308), (9, -0.5);
CREATE TABLE texts (id INTEGER PRIMARY KEY, v TEXT, b BLOB);
INSERT INTO texts VALUES (1, '', x''), (2, NULL, NULL), (3, '\N', x'00'),
                         (4, '\.', x'ff00ff'), (5, 'a\b\\c', x'5c4e'),
                         (6, 'line1' || char(13) || char(10) || 'line2', x'0d0a'),
                         (7, 'tab' || char(9) || 'end', x'09'),
                         (8, 'ctl' || char(1) || char(27) || char(127), x'01'),
                         (9, '4-byte 😀 𝄞 中文', x'f09f9880'),
                         (10, '"quoted", comma', x'22');
