-- Mask personal data in the restored copy of the orders database.
--
-- Runs after the restore, before the swap, in one transaction (the pipeline opens and commits
-- it: no BEGIN/COMMIT here). Idempotent: every masked value is derived from the row's primary
-- key only, so a second run writes the same values; the WHERE clauses skip rows that are
-- already masked, so a re-run rewrites nothing.
--
-- Values stay realistic enough for the application: unique e-mails on a reserved domain
-- (.invalid never resolves, nothing can be mailed), phone fields that are no phone numbers
-- (the PII gate judges hand-masked columns by their values), plausible names and addresses,
-- dates of birth kept in the same year so age-based logic behaves roughly as in production.

UPDATE public.customers
SET email         = 'customer' || id || '@example.invalid',
    phone         = 'phone-' || id,
    first_name    = 'Customer',
    last_name     = 'No. ' || id,
    street        = (id % 900 + 100) || ' Example Street',
    postal_code   = lpad((id % 100000)::text, 5, '0'),
    date_of_birth = make_date(extract(year FROM date_of_birth)::int, 1, 1)
                    + (id % 365)::int
WHERE (email, phone, first_name, last_name, street, postal_code)
      IS DISTINCT FROM
      ('customer' || id || '@example.invalid',
       'phone-' || id,
       'Customer',
       'No. ' || id,
       (id % 900 + 100) || ' Example Street',
       lpad((id % 100000)::text, 5, '0'))
   OR date_of_birth IS DISTINCT FROM make_date(extract(year FROM date_of_birth)::int, 1, 1)
                                     + (id % 365)::int;

-- Free text can hold anything (addresses, phone numbers in notes): replace it wholesale.
UPDATE public.orders
SET shipping_address = (customer_id % 900 + 100) || ' Example Street',
    notes            = CASE WHEN notes IS NULL THEN NULL ELSE 'masked' END
WHERE shipping_address IS DISTINCT FROM (customer_id % 900 + 100) || ' Example Street'
   OR (notes IS NOT NULL AND notes <> 'masked');
