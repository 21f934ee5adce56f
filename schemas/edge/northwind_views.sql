-- Edge case: views as a public application (Northwind) writes them. A TEXT column holding
-- '0'/'1' compared with the integers 0 and 1 (SQLite compares as text; PostgreSQL refuses
-- text = integer as written), bracket-quoted names with spaces, Products.* in a join, an
-- aggregate, a date range built with DATETIME(), a view reading a view, and a view with
-- printf() (no equivalent), listed as not carried.
CREATE TABLE Categories (CategoryID INTEGER PRIMARY KEY, CategoryName TEXT);
CREATE TABLE Products (ProductID INTEGER PRIMARY KEY, ProductName TEXT NOT NULL,
                       CategoryID INTEGER REFERENCES Categories, UnitPrice NUMERIC DEFAULT 0,
                       Discontinued TEXT NOT NULL DEFAULT '0');
CREATE TABLE Orders (OrderID INTEGER PRIMARY KEY, ShippedDate DATETIME);
CREATE TABLE "Order Details" (OrderID INTEGER REFERENCES Orders, ProductID INTEGER
                              REFERENCES Products, Quantity INTEGER,
                              PRIMARY KEY (OrderID, ProductID));
INSERT INTO Categories VALUES (1, 'Beverages'), (2, 'Condiments');
INSERT INTO Products VALUES (1, 'Chai', 1, 18, '0'), (2, 'Chang', 1, 19, '1'),
                            (3, 'Aniseed Syrup', 2, 10, '0');
INSERT INTO Orders VALUES (10248, '1996-07-16 00:00:00'), (10400, '1997-01-16 00:00:00'),
                          (10401, '1997-12-31 00:00:00');
INSERT INTO "Order Details" VALUES (10248, 1, 12), (10400, 2, 10), (10401, 3, 5);
CREATE VIEW [Alphabetical list of products] AS SELECT Products.*, Categories.CategoryName
    FROM Categories INNER JOIN Products ON Categories.CategoryID = Products.CategoryID
    WHERE (((Products.Discontinued)=0));
CREATE VIEW [Current Product List] AS SELECT ProductID, ProductName FROM Products
    WHERE Discontinued = 0;
CREATE VIEW [Discontinued Products] AS SELECT ProductName FROM Products
    WHERE Discontinued = 1;
CREATE VIEW [Products by Category] AS SELECT Categories.CategoryName, count(*) AS Products
    FROM Categories JOIN Products ON Categories.CategoryID = Products.CategoryID
    GROUP BY Categories.CategoryName;
CREATE VIEW [Orders 1997] AS SELECT OrderID FROM Orders
    WHERE ShippedDate BETWEEN DATETIME('1997-01-01') AND DATETIME('1997-12-31');
CREATE VIEW [Current Names] AS SELECT ProductName FROM [Current Product List];
CREATE VIEW [Shouted Names] AS SELECT printf('%s!', ProductName) AS shout FROM Products;
