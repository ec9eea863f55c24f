# Figures that must agree with the timeout engine (src/timeouts/) and the delivery code
# (src/worker/). test/infra.test.ts reads the engine and fails when one of these disagrees;
# change the engine first, then these.
#
# Dead-letter arithmetic. A job must never be dead-lettered while it can still finish or be
# taken over. Deliveries after the first come no sooner than the ack deadline, and each further
# one no sooner than the retry policy's minimum backoff after the previous refusal, so delivery N
# arrives at least   ack_deadline + (N − 2) × minimum_backoff   after the first. N (Pub/Sub's
# max_delivery_attempts) is chosen so that this reaches past:
#   push  the whole job: hardTimeout + margin (pull lease extension, 3000 + 60 s). Pub/Sub stops
#         waiting for a held push request after the ack deadline (600 s at most) and redelivers;
#         the ledger refuses those deliveries while the first one still runs (SPEC §3.3):
#         600 + (7 − 2) × 600 = 3600 ≥ 3060, so 7 deliveries.
#   pull  a crashed worker's ledger lease (120 s): the streaming-pull client extends a live job's
#         lease for the whole job (3060 s), so only a nack or a crash brings a redelivery, and the
#         last delivery must come after the lease lapsed so it can take the job over:
#         60 + (5 − 2) × 30 = 150 ≥ 120, so 5 deliveries with a 30 s minimum backoff.
# PUBSUB_MAX_DELIVERY_ATTEMPTS is set to the same N: the worker answers with a failure email on
# the last delivery instead of nacking it.

locals {
  cloud_run_timeout_s    = 3600 # CLOUD_RUN_TIMEOUT_S; Cloud Run's maximum; > hardTimeout 3000 + SHUTDOWN_GRACE_S
  shutdown_grace_s       = 8    # SHUTDOWN_GRACE_S, inside Cloud Run's 10 s SIGTERM window
  hard_timeout_s         = 3000 # email/api hardTimeout (seed 002)
  pull_lease_extension_s = 3060 # pullLeaseExtensionS(): longest hardTimeout + 60 s margin
  ledger_lease_s         = 120  # ledgerLeaseS

  push_ack_deadline_s        = 600 # Pub/Sub's maximum for a push subscription
  push_minimum_backoff_s     = 600
  push_maximum_backoff_s     = 600
  push_max_delivery_attempts = 7

  pull_ack_deadline_s        = 60 # bounds how fast a crashed worker's jobs come back
  pull_minimum_backoff_s     = 30
  pull_maximum_backoff_s     = 600
  pull_max_delivery_attempts = 5

  ack_deadline_s        = local.is_push ? local.push_ack_deadline_s : local.pull_ack_deadline_s
  minimum_backoff_s     = local.is_push ? local.push_minimum_backoff_s : local.pull_minimum_backoff_s
  maximum_backoff_s     = local.is_push ? local.push_maximum_backoff_s : local.pull_maximum_backoff_s
  max_delivery_attempts = local.is_push ? local.push_max_delivery_attempts : local.pull_max_delivery_attempts

  # Timeout alerts of seed 004 §10.2 (src/timeouts/levels.ts LEVEL_TABLE): fires when the share of
  # timed-out operations of a level over the window is strictly greater than `percent`.
  timeout_alert_window = "5m"
  timeout_alert_rules = {
    T1 = { percent = 1, severity = "CRITICAL", name = "Cache" }
    T2 = { percent = 5, severity = "WARNING", name = "File" }
    T3 = { percent = 10, severity = "INFO", name = "Layer" }
    T4 = { percent = 20, severity = "WARNING", name = "Full" }
    T5 = { percent = 30, severity = "INFO", name = "Complex" }
  }
}
