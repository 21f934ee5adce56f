-- Edge case: identifiers. Reserved words, mixed case, spaces, quotes, %, braces,
-- backslashes and emoji; non-ASCII case twins (SQLite folds only ASCII case); a name
-- longer than PostgreSQL's 63 bytes; an index whose name PostgreSQL would generate for
-- another object ("order_pkey").
CREATE TABLE "user" ("order" INTEGER PRIMARY KEY, "group" TEXT, "Select" TEXT);
CREATE TABLE "order" (id INTEGER PRIMARY KEY, "MixedCase" TEXT, "with space" TEXT,
                      "quote""d" TEXT, "per%cent" TEXT, "{brace}" TEXT, "back\slash" TEXT,
                      "emoji😀" TEXT, "É" TEXT, "é" TEXT);
CREATE INDEX "order_pkey" ON "order" ("MixedCase");
CREATE TABLE "a_table_name_that_is_much_longer_than_sixty_three_bytes_in_postgresql_x" (
    id INTEGER PRIMARY KEY,
    "a_column_name_that_is_much_longer_than_sixty_three_bytes_in_postgresql_y" TEXT);
INSERT INTO "user" VALUES (1, 'g', 's'), (2, NULL, '');
INSERT INTO "order" VALUES (1, 'M', 'sp', 'q', '%', '{}', '\', '😀', 'upper', 'lower');
INSERT INTO "a_table_name_that_is_much_longer_than_sixty_three_bytes_in_postgresql_x"
    VALUES (1, 'long');
