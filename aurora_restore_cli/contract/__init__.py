"""The pipeline's contract with handlers/: names, the settings document, the rendered
definition and its time limits. May import config and bundled only.
"""
