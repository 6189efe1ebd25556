"""The embedded sandbox behind --local: the moto server, its seed and PostgreSQL, and
the routers that make moto run our handlers. May import resources and below; never face.
"""
