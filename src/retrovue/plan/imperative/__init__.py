"""Builders for the imperative commands: arguments + a DB snapshot + an importer -> plan actions.

The same action types `retrovue plan` builds, so one executor runs both.  Source-level
diffing reuses ``diff.sources``; asset diffing reuses ``diff.assets``.  Nothing here writes.
"""

from retrovue.plan.imperative.collections import (
    CollectionUpdatePlan,
    plan_collection_update,
    plan_ingest,
    scope_of,
)
from retrovue.plan.imperative.deletes import (
    DeleteTarget,
    delete_action,
    delete_targets,
    wipe_action,
    wipe_counts,
)
from retrovue.plan.imperative.params import (
    ParamErrors,
    unique_external_id,
    validate_params,
)
from retrovue.plan.imperative.sources import (
    DiscoveredCollection,
    DiscoveryPlan,
    collection_address,
    discovered_mappings,
    plan_discover,
    plan_source_add,
    plan_source_update,
    source_address,
    upstream_of,
)

__all__ = [
    "CollectionUpdatePlan",
    "DeleteTarget",
    "DiscoveredCollection",
    "DiscoveryPlan",
    "ParamErrors",
    "collection_address",
    "delete_action",
    "delete_targets",
    "discovered_mappings",
    "plan_collection_update",
    "plan_discover",
    "plan_ingest",
    "plan_source_add",
    "plan_source_update",
    "scope_of",
    "source_address",
    "unique_external_id",
    "upstream_of",
    "validate_params",
    "wipe_action",
    "wipe_counts",
]
