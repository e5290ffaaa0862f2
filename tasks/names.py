"""Task names, shared by the tasks, the routing, beat and the API (which sends by name)."""

ACTIVATE = "tasks.activate"
DEACTIVATE = "tasks.deactivate"
TRANSACTION = "tasks.transaction"
HOLDINGS = "tasks.holdings"
ADVANCE_GROUP = "tasks.advance_group"
RUN_LEG = "tasks.run_leg"
FINISH_JOB = "tasks.finish_job"
SWEEP_GROUPS = "tasks.sweep_groups"
REFRESH_HOLDINGS = "tasks.refresh_holdings"
HEARTBEAT = "tasks.heartbeat"
FORGET_ACCOUNT = "tasks.forget_account"

# Remote-control command: workers re-read the groups and adjust their queues.
SYNC_GROUPS_COMMAND = "tradefleet_sync_groups"

# The task that starts a job of each kind (core.models.JobKind values).
FOR_JOB_KIND = {
    "activate": ACTIVATE,
    "deactivate": DEACTIVATE,
    "transaction": TRANSACTION,
    "holdings": HOLDINGS,
}
