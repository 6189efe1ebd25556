"""Plan and apply over the resource kinds (the engine and its scheduler), and the
offline validation of a whole config. May import resources and everything below them.
"""
