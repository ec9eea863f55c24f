# Timeout alerts of seed 004 §10.2, mirrored from the in-process evaluator
# (src/observability/alerts.ts; thresholds from src/timeouts/levels.ts LEVEL_TABLE):
#
#   T1 > 1 %  CRITICAL    T2 > 5 %  WARNING    T3 > 10 % INFO    T4 > 20 % WARNING    T5 > 30 % INFO
#
# Same rule as in-process: timed-out operations / all operations of the level over the last 5 minutes,
# strictly greater than the threshold, and only with at least `timeout_alert_min_samples` operations in
# the window. The in-process evaluator sees one instance; these policies see the whole service.
#
# Source: the worker's Prometheus metrics (`GET /metrics`) — `timeout_violations_total{level,operation}`
# and `operation_duration_ms_count{level,operation}` — collected by Google Cloud Managed Service for
# Prometheus (on Cloud Run: the managed Prometheus sidecar scraping the container's /metrics).
#
# Cloud Monitoring policies have no INFO severity (only CRITICAL, ERROR, WARNING): INFO rules are
# created without a severity and carry the label severity=info.

variable "timeout_alert_notification_channels" {
  type        = list(string)
  default     = []
  description = "Notification channel ids (projects/…/notificationChannels/…) for the timeout alerts."
}

variable "timeout_alert_min_samples" {
  type        = number
  default     = 20
  description = "Fewest operations of a level in the window before its alert may fire (in-process: minSamples)."
}

locals {
  timeout_alert_window = "5m"
  timeout_alert_rules = {
    T1 = { percent = 1, severity = "CRITICAL", name = "Cache" }
    T2 = { percent = 5, severity = "WARNING", name = "File" }
    T3 = { percent = 10, severity = "INFO", name = "Layer" }
    T4 = { percent = 20, severity = "WARNING", name = "Full" }
    T5 = { percent = 30, severity = "INFO", name = "Complex" }
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
      and takes the level's fallback on every timeout (see SPEC §2.3). Check `timeout_violations_total{level="${each.key}"}` by operation.
    EOT
  }

  notification_channels = var.timeout_alert_notification_channels
}
