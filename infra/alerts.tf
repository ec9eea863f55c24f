# Alerts (docs/runbook.md says what to do for each). Sources:
#   - the worker's Prometheus metrics (GET /metrics), collected by the Managed Service for
#     Prometheus sidecar (run.tf): T1–T5 timeout percentages;
#   - log-based metrics on the worker's JSON log lines (the line texts are checked against the code
#     by test/infra.test.ts): failure emails, invalid jobs;
#   - Pub/Sub's own metrics: dead letters, oldest unacknowledged message, publishes (inbound mail).
# Cloud Monitoring has no INFO severity: INFO rules carry no severity and the label severity=info.

locals {
  log_filter_base = "resource.type=(\"cloud_run_revision\" OR \"cloud_run_worker_pool\") AND (resource.labels.service_name=\"email-worker\" OR resource.labels.worker_pool_name=\"email-worker-pool\")"
  # Log lines counted by log-based metrics: metric → the exact `message` the code writes.
  log_metrics = {
    failure_emails = { message = "Job failed; sending a failure email", description = "Jobs answered with a failure email." }
    invalid_jobs   = { message = "Invalid job: acknowledged and not processed", description = "Malformed jobs acknowledged without processing." }
  }
  # A message unacknowledged for longer than the longest job (lease extension) plus one backoff
  # is not being worked on by anyone.
  oldest_unacked_alert_s = local.pull_lease_extension_s + local.maximum_backoff_s
}

resource "google_logging_metric" "jobs" {
  for_each    = local.log_metrics
  name        = "email-worker/${each.key}"
  description = each.value.description
  filter      = "${local.log_filter_base} AND jsonPayload.message=\"${each.value.message}\""
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
}

resource "google_monitoring_alert_policy" "timeout_percentage" {
  for_each = local.timeout_alert_rules

  display_name = "email-worker: ${each.key} (${each.value.name}) timeouts > ${each.value.percent}%"
  combiner     = "OR"
  severity     = each.value.severity == "INFO" ? null : each.value.severity
  user_labels = {
    service  = "email-worker"
    level    = lower(each.key)
    severity = lower(each.value.severity)
  }

  conditions {
    display_name = "${each.key} timeout percentage over ${local.timeout_alert_window} > ${each.value.percent}%"
    condition_prometheus_query_language {
      # 100 × timeouts / operations for this level, across all instances and operations, gated by the sample count.
      query               = <<-EOT
        (
          100 * sum(increase(timeout_violations_total{level="${each.key}"}[${local.timeout_alert_window}]))
            / sum(increase(operation_duration_ms_count{level="${each.key}"}[${local.timeout_alert_window}]))
        ) > ${each.value.percent}
        and on() sum(increase(operation_duration_ms_count{level="${each.key}"}[${local.timeout_alert_window}])) >= ${var.timeout_alert_min_samples}
      EOT
      duration            = "0s"
      evaluation_interval = "60s"
      alert_rule          = "TimeoutPercentage${each.key}"
      rule_group          = "email-worker-timeouts"
      labels = {
        level    = each.key
        severity = lower(each.value.severity)
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      More than ${each.value.percent}% of ${each.key} (${each.value.name}) operations timed out in the last ${local.timeout_alert_window}.
      The worker also logs this crossing itself (`Timeout alert ${each.key} firing: …`, jsonPayload.alert.level="${each.key}")
      and takes the level's fallback on every timeout (SPEC §2.3). Runbook: docs/runbook.md#timeout-alerts-t1t5.
    EOT
  }

  notification_channels = var.notification_channels
}

resource "google_monitoring_alert_policy" "failure_emails" {
  display_name = "email-worker: failure emails sent"
  combiner     = "OR"
  severity     = "WARNING"
  conditions {
    display_name = "failure emails in 15 min > 0"
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.jobs["failure_emails"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A job ended with a failure email (permanent error, or retries exhausted on its last delivery). Runbook: docs/runbook.md#failure-emails."
  }
  notification_channels = var.notification_channels
}

resource "google_monitoring_alert_policy" "dead_letters" {
  display_name = "email-worker: jobs dead-lettered"
  combiner     = "OR"
  severity     = "ERROR"
  conditions {
    display_name = "dead-lettered messages > 0"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.jobs.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "Every delivery of a job crashed or was refused, so Pub/Sub moved it to ${google_pubsub_topic.dead.name}. Its sender may have had no answer. Runbook: docs/runbook.md#dead-letters."
  }
  notification_channels = var.notification_channels
}

resource "google_monitoring_alert_policy" "oldest_unacked" {
  display_name = "email-worker: a job waits longer than any job can run"
  combiner     = "OR"
  severity     = "ERROR"
  conditions {
    display_name = "oldest unacknowledged message > ${local.oldest_unacked_alert_s} s"
    condition_threshold {
      filter          = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.jobs.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = local.oldest_unacked_alert_s
      duration        = "300s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "A job has been waiting longer than the longest job may run (lease extension + one backoff): no worker is taking jobs, or the backlog outgrew the instances. Runbook: docs/runbook.md#backlog."
  }
  notification_channels = var.notification_channels
}

resource "google_monitoring_alert_policy" "inbound_silence" {
  display_name = "email-worker: no inbound mail for ${var.inbound_silence_hours} h"
  combiner     = "OR"
  severity     = "WARNING"
  conditions {
    display_name = "no job published for ${var.inbound_silence_hours} h"
    condition_absent {
      filter   = "metric.type=\"pubsub.googleapis.com/topic/send_message_operation_count\" AND resource.type=\"pubsub_topic\" AND resource.labels.topic_id=\"${google_pubsub_topic.jobs.name}\""
      duration = "${var.inbound_silence_hours * 3600}s"
      aggregations {
        alignment_period   = "3600s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = "Nothing was published to ${google_pubsub_topic.jobs.name} for ${var.inbound_silence_hours} hours: the Mailgun route, its webhook URL, the signing key or the ingress may be broken. Runbook: docs/runbook.md#inbound-silence."
  }
  notification_channels = var.notification_channels
}
