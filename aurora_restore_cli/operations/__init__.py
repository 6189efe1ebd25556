"""Operating what setup deployed: runs, recovery, drills and preflight. May import
provisioning, resources, documents, contract, config, aws and bundled; never face or commands.
"""
