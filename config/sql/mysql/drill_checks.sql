-- Restore drill checks (config: drill.checks_sql), run read-only on the drill cluster after
-- the expected tables. Every statement is one check: it passes when it returns at least one
-- row and every value is true (MySQL has no boolean type: 1 is true, 0 false, anything else
-- fails the check). Name a check with a "-- check: <name>" line before it; a failing drill
-- names the checks that failed. Tables without a database name are database.name's.

-- check: customers restored
SELECT COUNT(*) > 0 FROM customers;

-- check: every order has its customer
SELECT NOT EXISTS (
    SELECT 1
    FROM orders o
    LEFT JOIN customers c ON c.id = o.customer_id
    WHERE c.id IS NULL
);

-- check: the snapshot holds recent orders
SELECT MAX(created_at) > NOW() - INTERVAL 2 DAY FROM orders;
