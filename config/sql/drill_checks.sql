-- Restore drill checks (config: drill.checks_sql), run read-only on the drill cluster after
-- the expected tables. Every statement is one check: it passes when it returns at least one
-- row and every value is true. Name a check with a "-- check: <name>" line before it; a
-- failing drill names the checks that failed.

-- check: customers restored
SELECT count(*) > 0 FROM public.customers;

-- check: every order has its customer
SELECT NOT EXISTS (
    SELECT 1
    FROM public.orders o
    LEFT JOIN public.customers c ON c.id = o.customer_id
    WHERE c.id IS NULL
);

-- check: the snapshot holds recent orders
SELECT max(created_at) > now() - interval '2 days' FROM public.orders;
