"""The sandbox's production data: a small orders database full of (fake) personal data.

The shape is what the example config expects: `public.customers` and `public.orders` are what
`config/sql/mask_pii.sql` masks and `verify` counts; `public.products` holds no personal data
and is left alone. Production's side effects come along, as in a real snapshot: an outbound
e-mail queue (`public.outbound_email`, mail waiting for real customers) and a postgres_fdw
server pointing at production's reporting cluster with a user mapping (`production`): the
shipped config's quarantine empties the one and refuses the other in the refreshed target. The rows are generated deterministically (same seed, same rows), from
fictional names on reserved domains (example.com/.org/.net) and fictional phone numbers.
An aurora-mysql env gets the same rows in the same tables of its MySQL database (`fill_mysql`;
MySQL's schema is the database, config/dev-mysql.yaml names it `orders`).
"""

from __future__ import annotations

import random
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS public.customers (
    id bigserial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    phone text,
    first_name text,
    last_name text,
    street text,
    postal_code text,
    date_of_birth date,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.products (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    price_cents integer NOT NULL
);
CREATE TABLE IF NOT EXISTS public.orders (
    id bigserial PRIMARY KEY,
    customer_id bigint NOT NULL REFERENCES public.customers (id),
    product_id bigint NOT NULL REFERENCES public.products (id),
    total_cents integer NOT NULL,
    shipping_address text,
    notes text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS public.outbound_email (
    id bigserial PRIMARY KEY,
    recipient text NOT NULL,
    subject text NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now()
);
"""
TABLES = ("public.customers", "public.products", "public.orders", "public.outbound_email")
FOREIGN_SERVER = "production"  # postgres_fdw, pointing at production (the quarantine refuses it)
CUSTOMERS, ORDERS, QUEUED = 24, 60, 12

FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret",
         "Dennis", "Radia", "Tim", "Katherine", "John", "Hedy", "Niklaus"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
        "Hamilton", "Ritchie", "Perlman", "Berners-Lee", "Johnson", "Backus", "Lamarr", "Wirth"]
STREETS = ["Analytical Row", "Enigma Lane", "Compiler Court", "Semaphore Street",
           "Lambda Avenue", "Pointer Place", "Kernel Road", "Packet Way"]
CITIES = ["Springfield", "Riverton", "Lakeside", "Hillview", "Brookfield", "Fairview"]
DOMAINS = ["example.com", "example.org", "example.net"]
PRODUCTS = [("Mechanical keyboard", 12900), ("Standing desk", 45900), ("Monitor arm", 8900),
            ("Noise-cancelling headphones", 24900), ("USB-C dock", 15900)]
NOTES = [None, None, "leave at the door", "call {phone} before delivery",
         "gift: do not include the invoice", "ring twice, ask for {first}"]


def rows(seed: int = 42) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every table (without ids: they are bigserial, 1..n in this order)."""
    rng = random.Random(seed)
    customers = []
    for i in range(CUSTOMERS):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
        phone = f"+1-202-555-{rng.randrange(100, 200):04d}"
        street = f"{rng.randrange(1, 400)} {rng.choice(STREETS)}, {rng.choice(CITIES)}"
        email = f"{first}.{last}{i + 1}@{DOMAINS[i % 3]}".lower().replace("-", "")
        born = f"{rng.randrange(1950, 2004)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        customers.append((email, phone, first, last, street, f"{rng.randrange(10000, 99999)}",
                          born))
    orders = []
    for _ in range(ORDERS):
        customer = rng.randrange(1, CUSTOMERS + 1)
        product = rng.randrange(1, len(PRODUCTS) + 1)
        email, phone, first, _, street, *_ = customers[customer - 1]
        note = rng.choice(NOTES)
        orders.append((customer, product, PRODUCTS[product - 1][1] * rng.randrange(1, 3), street,
                       note.format(phone=phone, first=first) if note else None))
    queued = [(customers[(i * 5) % CUSTOMERS][0], f"Your order {i * 3 + 1} has shipped")
              for i in range(QUEUED)]
    return {"customers": customers, "products": list(PRODUCTS), "orders": orders,
            "outbound_email": queued}


def fill(conn: Any) -> dict[str, int]:
    """Create the tables and their rows unless they hold data already; returns the counts.
    (The foreign server: `link_production`.)"""
    conn.run("START TRANSACTION")
    try:
        for statement in filter(str.strip, SCHEMA.split(";")):
            conn.run(statement)
        if not conn.run("SELECT count(*) FROM public.customers")[0][0]:
            data = rows()
            for row in data["customers"]:
                conn.run("INSERT INTO public.customers (email, phone, first_name, last_name, "
                         "street, postal_code, date_of_birth) VALUES (:e, :p, :f, :l, :s, :z, "
                         "CAST(:b AS date))", e=row[0], p=row[1], f=row[2], l=row[3], s=row[4],
                         z=row[5], b=row[6])
            for name, price in data["products"]:
                conn.run("INSERT INTO public.products (name, price_cents) VALUES (:n, :p)",
                         n=name, p=price)
            for c, p, total, address, note in data["orders"]:
                conn.run("INSERT INTO public.orders (customer_id, product_id, total_cents, "
                         "shipping_address, notes) VALUES (:c, :p, :t, :a, :n)",
                         c=c, p=p, t=total, a=address, n=note)
        if not conn.run("SELECT count(*) FROM public.outbound_email")[0][0]:
            for recipient, subject in rows()["outbound_email"]:
                conn.run("INSERT INTO public.outbound_email (recipient, subject) VALUES (:r, :s)",
                         r=recipient, s=subject)
        conn.run("COMMIT")
    except BaseException:
        conn.run("ROLLBACK")
        raise
    return {table: int(conn.run(f"SELECT count(*) FROM {table}")[0][0]) for table in TABLES}


def link_production(conn: Any, host: str) -> str:
    """Production's postgres_fdw server (`FOREIGN_SERVER`, to `host`) with a user mapping
    holding a (fake) production password, unless it exists; returns what it did. Needs the
    postgres_fdw extension (Debian's postgresql package has it) and the right to create it."""
    if conn.run("SELECT count(*) FROM pg_foreign_server WHERE srvname = :s",
                s=FOREIGN_SERVER)[0][0]:
        return "present"
    conn.run("CREATE EXTENSION IF NOT EXISTS postgres_fdw")
    literal = host.replace("'", "''")
    conn.run(f"CREATE SERVER {FOREIGN_SERVER} FOREIGN DATA WRAPPER postgres_fdw "
             f"OPTIONS (host '{literal}', port '5432', dbname 'reporting')")
    conn.run(f"CREATE USER MAPPING FOR CURRENT_USER SERVER {FOREIGN_SERVER} "
             "OPTIONS (user 'reporting_ro', password 'not-a-real-production-password')")
    return "created"


def side_effects(conn: Any) -> dict[str, Any]:
    """What of production's side effects a database holds: the queued mail, and where the
    foreign server points and with how many user mappings (None: no such server)."""
    queued = conn.run("SELECT count(*) FROM public.outbound_email")[0][0]
    found = conn.run(
        "SELECT (SELECT option_value FROM pg_options_to_table(s.srvoptions) "
        "        WHERE option_name = 'host'), "
        "       (SELECT count(*) FROM pg_user_mappings m WHERE m.srvname = s.srvname) "
        "FROM pg_foreign_server s WHERE s.srvname = :s", s=FOREIGN_SERVER)
    server = {"host": found[0][0], "user_mappings": int(found[0][1])} if found else None
    return {"outbound_email": int(queued), "foreign_server": server}


SAMPLE = """
SELECT c.id, c.first_name || ' ' || c.last_name, c.email, c.phone, c.date_of_birth::text,
       coalesce(o.shipping_address, '-'), coalesce(o.notes, '-')
FROM public.customers c
LEFT JOIN LATERAL (SELECT shipping_address, notes FROM public.orders
                   WHERE customer_id = c.id ORDER BY notes IS NULL, id LIMIT 1) o ON true
ORDER BY c.id LIMIT :n
"""
SAMPLE_COLUMNS = ("id", "name", "email", "phone", "born", "shipping address", "order note")


def sample(conn: Any, count: int = 3) -> list[list[str]]:
    """A few customers with one of their orders: what masking changes, side by side."""
    return [[str(v) for v in row] for row in conn.run(SAMPLE, n=count)]


# --- the same data on the sandbox's MySQL (aurora-mysql envs) ---------------------------------

MYSQL_SCHEMA = """
CREATE TABLE IF NOT EXISTS customers (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    phone VARCHAR(64),
    first_name VARCHAR(100),
    last_name VARCHAR(100),
    street VARCHAR(255),
    postal_code VARCHAR(16),
    date_of_birth DATE,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS products (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    price_cents INT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS orders (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    product_id BIGINT NOT NULL,
    total_cents INT NOT NULL,
    shipping_address TEXT,
    notes TEXT,
    created_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    FOREIGN KEY (customer_id) REFERENCES customers (id),
    FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE IF NOT EXISTS outbound_email (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    recipient VARCHAR(255) NOT NULL,
    subject VARCHAR(255) NOT NULL,
    queued_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
MYSQL_TABLES = ("customers", "products", "orders", "outbound_email")
# MySQL's side effect in the sandbox: a scheduled event that would send the queue (it only
# marks mail sent, and only ever runs where the Event Scheduler is on; the quarantine disables
# it in the refreshed target, which is what the demo shows).
MYSQL_EVENT = "send_outbound_email"


def fill_mysql(conn: Any) -> dict[str, int]:
    """`fill` for a PyMySQL connection to the cluster's database (DDL commits at once in
    MySQL, so the tables are created first, then the rows in one transaction)."""
    with conn.cursor() as cursor:
        for statement in filter(str.strip, MYSQL_SCHEMA.split(";")):
            cursor.execute(statement)
        cursor.execute("SELECT COUNT(*) FROM customers")
        if not cursor.fetchone()[0]:
            data = rows()
            cursor.execute("START TRANSACTION")
            try:
                cursor.executemany(
                    "INSERT INTO customers (email, phone, first_name, last_name, street, "
                    "postal_code, date_of_birth) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    data["customers"])
                cursor.executemany("INSERT INTO products (name, price_cents) VALUES (%s, %s)",
                                   data["products"])
                cursor.executemany(
                    "INSERT INTO orders (customer_id, product_id, total_cents, shipping_address, "
                    "notes) VALUES (%s, %s, %s, %s, %s)", data["orders"])
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        cursor.execute("SELECT COUNT(*) FROM outbound_email")
        if not cursor.fetchone()[0]:
            cursor.execute("START TRANSACTION")
            try:
                cursor.executemany("INSERT INTO outbound_email (recipient, subject) "
                                   "VALUES (%s, %s)", rows()["outbound_email"])
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        counts = {}
        for table in MYSQL_TABLES:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[table] = int(cursor.fetchone()[0])
    return counts


MYSQL_SAMPLE = """
SELECT c.id, CONCAT(c.first_name, ' ', c.last_name), c.email, c.phone,
       CAST(c.date_of_birth AS CHAR),
       COALESCE((SELECT o.shipping_address FROM orders o WHERE o.customer_id = c.id
                 ORDER BY o.notes IS NULL, o.id LIMIT 1), '-'),
       COALESCE((SELECT o.notes FROM orders o WHERE o.customer_id = c.id
                 ORDER BY o.notes IS NULL, o.id LIMIT 1), '-')
FROM customers c ORDER BY c.id LIMIT %s
"""


def schedule_sending(conn: Any) -> str:
    """Production's scheduled event that sends the queue (`MYSQL_EVENT`), unless it exists;
    returns what it did."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.EVENTS WHERE "
                       "EVENT_SCHEMA = DATABASE() AND EVENT_NAME = %s", (MYSQL_EVENT,))
        if cursor.fetchone()[0]:
            return "present"
        cursor.execute(f"CREATE EVENT {MYSQL_EVENT} ON SCHEDULE EVERY 1 MINUTE ENABLE "
                       "DO DELETE FROM outbound_email WHERE queued_at < NOW() - INTERVAL 1 DAY")
    return "created"


def side_effects_mysql(conn: Any) -> dict[str, Any]:
    """What of production's side effects a MySQL database holds: the queued mail, and the
    event that would send it (None: no such event)."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM outbound_email")
        queued = int(cursor.fetchone()[0])
        cursor.execute("SELECT STATUS FROM information_schema.EVENTS WHERE "
                       "EVENT_SCHEMA = DATABASE() AND EVENT_NAME = %s", (MYSQL_EVENT,))
        found = cursor.fetchone()
    event = {"name": MYSQL_EVENT, "enabled": str(found[0]) == "ENABLED"} if found else None
    return {"outbound_email": queued, "event": event}


def sample_mysql(conn: Any, count: int = 3) -> list[list[str]]:
    with conn.cursor() as cursor:
        cursor.execute(MYSQL_SAMPLE, (count,))
        return [[str(v) for v in row] for row in cursor.fetchall()]
