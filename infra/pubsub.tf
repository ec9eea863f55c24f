resource "google_pubsub_topic" "jobs" {
  name = "email-worker-jobs"
}

resource "google_pubsub_topic" "dead" {
  name = "email-worker-jobs-dead"
}

# Pull subscription for the worker. The client extends each message's lease for the whole job
# (hardTimeout 3000 s + 60 s margin), so ack_deadline_seconds only bounds how fast a crashed
# worker's jobs come back. Redelivery follows only a nack (retryable failure, shutdown, busy) or
# a crash; the backoff spaces the five deliveries so a live lease is not dead-lettered (see
# src/worker/pubsub-resources.ts for the arithmetic).
resource "google_pubsub_subscription" "worker" {
  name                       = "email-worker-jobs-worker"
  topic                      = google_pubsub_topic.jobs.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Dead letters are kept for an operator to inspect and republish.
resource "google_pubsub_subscription" "dead" {
  name                       = "email-worker-jobs-dead-inspect"
  topic                      = google_pubsub_topic.dead.id
  message_retention_duration = "604800s"
}

data "google_project" "this" {}

# Pub/Sub's own service agent must be able to publish dead letters and ack the source.
resource "google_pubsub_topic_iam_member" "dead_publisher" {
  topic  = google_pubsub_topic.dead.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_subscriber" {
  subscription = google_pubsub_subscription.worker.id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "worker_subscriber" {
  subscription = google_pubsub_subscription.worker.id
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_pubsub_topic_iam_member" "worker_publisher" {
  topic  = google_pubsub_topic.jobs.id
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.worker.email}"
}
