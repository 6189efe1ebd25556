"""The IAM documents of the roles, from settings and names only (pure: no AWS call);
this package's public names, for `policies.<name>`. May import contract, config, bundled."""

from __future__ import annotations

from .arns import Arns
from .lambda_role import RDS_TYPES_NOT_TOUCHED, RDS_TYPES_TOUCHED
from .review import (
    RESOURCE_EXCEPTIONS,
    WILDCARD_ACTIONS,
    as_list,
    env_resources,
    inline_size,
    overlapping_clusters,
    problems,
)
from .roles import (
    INLINE_SIZE_LIMIT,
    MANAGED_POLICIES,
    MANAGED_SIZE_LIMIT,
    ROLE_KINDS,
    all_policies,
    inline_policies,
    managed_policies,
    trust_policy,
)
from .statements import (
    DATA_KEY_ACTIONS,
    POLICY_PREFIX,
    RDS_KEY_ACTIONS,
    SOURCE_KEY_ACTIONS,
    VERSION,
    Document,
    Statement,
    kms_key_resource,
)

__all__ = [
    "DATA_KEY_ACTIONS",
    "INLINE_SIZE_LIMIT",
    "MANAGED_POLICIES",
    "MANAGED_SIZE_LIMIT",
    "POLICY_PREFIX",
    "RDS_KEY_ACTIONS",
    "RDS_TYPES_NOT_TOUCHED",
    "RDS_TYPES_TOUCHED",
    "RESOURCE_EXCEPTIONS",
    "ROLE_KINDS",
    "SOURCE_KEY_ACTIONS",
    "VERSION",
    "WILDCARD_ACTIONS",
    "Arns",
    "Document",
    "Statement",
    "all_policies",
    "as_list",
    "env_resources",
    "inline_policies",
    "inline_size",
    "kms_key_resource",
    "managed_policies",
    "overlapping_clusters",
    "problems",
    "trust_policy",
]
