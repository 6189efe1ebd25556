"""The interface every resource kind implements (Resource, Context, Change) and
what the kinds share: bulk tag reads, the IAM propagation retry. May import documents and below.
"""
