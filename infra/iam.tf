# Least privilege: one identity per role, each with only what its code calls.
#   app     the Cloud Run service (ingress; in push topology also the jobs): publishes jobs, reads
#           the topic and subscription (readiness, subscription check), the Firestore database, its secrets
#   worker  the worker pool (pull topology): pulls the subscription, Firestore, its secrets
#   push    the identity in push requests' OIDC tokens (no roles: it only proves who calls)
#   crema   the autoscaler: reads its configuration and the subscription's metrics, sets the
#           worker pool's instance count

resource "google_service_account" "app" {
  account_id   = "email-worker-app"
  display_name = "email-worker service (ingress, push jobs)"
}

resource "google_service_account" "worker" {
  account_id   = "email-worker-pool"
  display_name = "email-worker worker pool (pull jobs)"
}

resource "google_service_account" "push" {
  account_id   = "email-worker-push"
  display_name = "email-worker push subscription identity"
}

resource "google_service_account" "crema" {
  count        = local.use_crema ? 1 : 0
  account_id   = "email-worker-crema"
  display_name = "email-worker CREMA autoscaler"
}

locals {
  runtime_members = {
    app    = "serviceAccount:${google_service_account.app.email}"
    worker = "serviceAccount:${google_service_account.worker.email}"
  }
}

resource "google_pubsub_topic_iam_member" "app_publisher" {
  topic  = google_pubsub_topic.jobs.id
  role   = "roles/pubsub.publisher"
  member = local.runtime_members.app
}

# Readiness asks whether the topic exists; the start-up check reads the subscription's settings.
resource "google_pubsub_topic_iam_member" "viewer" {
  for_each = local.runtime_members
  topic    = google_pubsub_topic.jobs.id
  role     = "roles/pubsub.viewer"
  member   = each.value
}

resource "google_pubsub_subscription_iam_member" "viewer" {
  for_each     = local.runtime_members
  subscription = google_pubsub_subscription.jobs.id
  role         = "roles/pubsub.viewer"
  member       = each.value
}

resource "google_pubsub_subscription_iam_member" "worker_subscriber" {
  subscription = google_pubsub_subscription.jobs.id
  role         = "roles/pubsub.subscriber"
  member       = local.runtime_members.worker
}

# The pool reads dead-letter notices (pull topology) and looks the subscription up at start-up.
resource "google_pubsub_subscription_iam_member" "worker_notices" {
  for_each     = toset(["roles/pubsub.subscriber", "roles/pubsub.viewer"])
  subscription = google_pubsub_subscription.notices.id
  role         = each.value
  member       = local.runtime_members.worker
}

# Firestore has no per-database role binding: datastore.user, conditioned on this database.
resource "google_project_iam_member" "firestore_user" {
  for_each = local.runtime_members
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = each.value
  condition {
    title      = "email-worker database only"
    expression = "resource.name.startsWith(\"${google_firestore_database.ledger.id}\")"
  }
}

# Structured logs and the managed-Prometheus sidecar's samples.
resource "google_project_iam_member" "telemetry" {
  for_each = { for pair in setproduct(keys(local.runtime_members), ["roles/logging.logWriter", "roles/monitoring.metricWriter"]) : "${pair[0]} ${pair[1]}" => { member = local.runtime_members[pair[0]], role = pair[1] } }
  project  = var.project_id
  role     = each.value.role
  member   = each.value.member
}

# Pub/Sub signs the push OIDC tokens as the push identity.
resource "google_service_account_iam_member" "agent_push_token" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# Mailgun posts unauthenticated (its signature is checked in the app); push tokens are checked in
# the app as well (REQUIRE_PUSH_AUTH), so the service is public.
resource "google_cloud_run_v2_service_iam_member" "public" {
  name     = google_cloud_run_v2_service.app.name
  location = var.region
  role     = "roles/run.invoker"
  member   = "allUsers"
}
