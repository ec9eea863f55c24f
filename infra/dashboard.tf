# One Cloud Monitoring dashboard: job outcomes, step timings, retries, T1–T5 percentages, backlog.

locals {
  # Pipeline steps timed per job (src/pipeline/process-job.ts `steps.time('<step>', …)`), taken from
  # the `timings` of the "Job finished: reply sent" log line.
  job_steps           = ["download", "context", "gemini", "export", "reply"]
  subscription_filter = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${google_pubsub_subscription.jobs.name}\""

  promql_chart = {
    for k, v in {
      outcomes     = { title = "Jobs finished per minute, by outcome", query = "sum by (outcome) (rate(jobs_total[5m])) * 60" }
      job_duration = { title = "Job duration p50 / p95 (ms)", query = "histogram_quantile(0.5, sum by (le) (rate(job_duration_ms_bucket[15m]))) or label_replace(histogram_quantile(0.95, sum by (le) (rate(job_duration_ms_bucket[15m]))), \"q\", \"p95\", \"\", \"\")" }
      retries      = { title = "Retries per minute, by operation and reason", query = "sum by (operation, reason) (rate(retries_total[5m])) * 60" }
      give_ups     = { title = "Retry give-ups per minute, by operation", query = "sum by (operation) (rate(retry_give_ups_total[5m])) * 60" }
      levels       = { title = "T1–T5 timeout percentage (alerts: T1 > 1, T2 > 5, T3 > 10, T4 > 20, T5 > 30)", query = "max by (level) (timeout_percentage)" }
      } : k => {
      title = v.title
      xyChart = {
        dataSets = [{ plotType = "LINE", timeSeriesQuery = { prometheusQuery = v.query } }]
      }
    }
  }

  filter_chart = {
    for k, v in {
      backlog        = { title = "Backlog: undelivered messages", filter = "metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND ${local.subscription_filter}", aligner = "ALIGN_MEAN" }
      oldest_unacked = { title = "Oldest unacknowledged job (s)", filter = "metric.type=\"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND ${local.subscription_filter}", aligner = "ALIGN_MAX" }
      dead_letters   = { title = "Dead-lettered jobs", filter = "metric.type=\"pubsub.googleapis.com/subscription/dead_letter_message_count\" AND ${local.subscription_filter}", aligner = "ALIGN_SUM" }
      failure_emails = { title = "Failure emails", filter = "metric.type=\"logging.googleapis.com/user/email-worker/failure_emails\"", aligner = "ALIGN_SUM" }
      invalid_jobs   = { title = "Invalid jobs", filter = "metric.type=\"logging.googleapis.com/user/email-worker/invalid_jobs\"", aligner = "ALIGN_SUM" }
      instances      = { title = "Instances (service)", filter = "metric.type=\"run.googleapis.com/container/instance_count\" AND resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"${google_cloud_run_v2_service.app.name}\"", aligner = "ALIGN_MAX" }
      } : k => {
      title = v.title
      xyChart = {
        dataSets = [{
          plotType        = "LINE"
          timeSeriesQuery = { timeSeriesFilter = { filter = v.filter, aggregation = { alignmentPeriod = "60s", perSeriesAligner = v.aligner } } }
        }]
      }
    }
  }

  step_chart = {
    title = "Step timings p95 (ms)"
    xyChart = {
      dataSets = [for step in local.job_steps : {
        plotType        = "LINE"
        legendTemplate  = step
        timeSeriesQuery = { timeSeriesFilter = { filter = "metric.type=\"logging.googleapis.com/user/email-worker/step_ms_${step}\"", aggregation = { alignmentPeriod = "300s", perSeriesAligner = "ALIGN_PERCENTILE_95", crossSeriesReducer = "REDUCE_MAX" } } }
      }]
    }
  }

  dashboard_widgets = concat(
    [local.promql_chart.outcomes, local.promql_chart.job_duration, local.step_chart, local.promql_chart.retries, local.promql_chart.give_ups, local.promql_chart.levels],
    [for k in ["backlog", "oldest_unacked", "dead_letters", "failure_emails", "invalid_jobs", "instances"] : local.filter_chart[k]],
  )
}

resource "google_logging_metric" "step_ms" {
  for_each        = toset(local.job_steps)
  name            = "email-worker/step_ms_${each.key}"
  description     = "Time of the ${each.key} step of replied jobs, ms."
  filter          = "${local.log_filter_base} AND jsonPayload.message=\"Job finished: reply sent\" AND jsonPayload.timings.${each.key}:*"
  value_extractor = "EXTRACT(jsonPayload.timings.${each.key})"
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.5
      scale              = 10
    }
  }
}

resource "google_monitoring_dashboard" "email_worker" {
  dashboard_json = jsonencode({
    displayName = "email-worker"
    mosaicLayout = {
      columns = 12
      tiles = [for i, w in local.dashboard_widgets : {
        xPos   = (i % 2) * 6
        yPos   = floor(i / 2) * 4
        width  = 6
        height = 4
        widget = w
      }]
    }
  })
  depends_on = [google_logging_metric.jobs, google_logging_metric.step_ms]
}
