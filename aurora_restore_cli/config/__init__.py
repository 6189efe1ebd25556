"""The one config object: config/<env>.yaml read into frozen, validated settings, with no
AWS call. The bottom layer: imports only bundled (the shipped handlers' SQL splitter).
"""
