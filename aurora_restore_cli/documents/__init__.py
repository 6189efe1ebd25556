"""What the resources send: the IAM policy documents and the Lambda packages.
May import contract, config and bundled; never resources or anything above.
"""
