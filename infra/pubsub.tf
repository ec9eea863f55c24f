# Names as locals: the service's env names the subscription, and the push subscription names the
# service's URL — through the resources that would be a dependency cycle.
locals {
  topic_name               = "email-worker-jobs"
  dead_topic_name          = "email-worker-jobs-dead"
  subscription_name        = "email-worker-jobs-worker"
  notice_subscription_name = "email-worker-jobs-dead-notice"
}

resource "google_pubsub_topic" "jobs" {
  name       = local.topic_name
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead" {
  name       = local.dead_topic_name
  depends_on = [google_project_service.apis]
}

# One subscription for either topology: push delivers to the service's /pubsub/push with an OIDC
# token; pull leaves push_config out and the worker pool pulls. Timings: engine.tf.
resource "google_pubsub_subscription" "jobs" {
  name                       = local.subscription_name
  topic                      = google_pubsub_topic.jobs.id
  ack_deadline_seconds       = local.ack_deadline_s
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "${local.minimum_backoff_s}s"
    maximum_backoff = "${local.maximum_backoff_s}s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead.id
    max_delivery_attempts = local.max_delivery_attempts
  }

  dynamic "push_config" {
    for_each = local.is_push ? [1] : []
    content {
      push_endpoint = "${google_cloud_run_v2_service.app.uri}/pubsub/push"
      oidc_token {
        service_account_email = google_service_account.push.email
        audience              = local.push_audience
      }
    }
  }
}

# Dead letters are kept a week for an operator to inspect and republish (docs/runbook.md).
resource "google_pubsub_subscription" "dead" {
  name                       = "email-worker-jobs-dead-inspect"
  topic                      = google_pubsub_topic.dead.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }
}

# Dead-letter notices: a job Pub/Sub gave up on (every delivery crashed, or none reached a live
# worker) still tells its sender — one failure email, nothing run again (docs/delivery.md §5).
# Push: delivered to the service's /pubsub/dead-letter; pull: read by the worker pool.
resource "google_pubsub_subscription" "notices" {
  name                       = local.notice_subscription_name
  topic                      = google_pubsub_topic.dead.id
  ack_deadline_seconds       = local.ack_deadline_s
  message_retention_duration = "604800s"
  expiration_policy {
    ttl = ""
  }

  # A notice for a job another instance still holds is refused until that instance is done.
  retry_policy {
    minimum_backoff = "${local.minimum_backoff_s}s"
    maximum_backoff = "${local.maximum_backoff_s}s"
  }

  dynamic "push_config" {
    for_each = local.is_push ? [1] : []
    content {
      push_endpoint = "${google_cloud_run_v2_service.app.uri}/pubsub/dead-letter"
      oidc_token {
        service_account_email = google_service_account.push.email
        audience              = local.push_audience
      }
    }
  }
}

# Pub/Sub's service agent publishes dead letters and acknowledges them on the source subscription.
resource "google_pubsub_topic_iam_member" "agent_dead_publisher" {
  topic  = google_pubsub_topic.dead.id
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "agent_subscriber" {
  subscription = google_pubsub_subscription.jobs.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
