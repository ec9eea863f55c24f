# Secret Manager secrets, mounted as environment variables. Terraform creates the secrets, never
# their values (those would land in the state): add a version with
#   printf %s "$KEY" | gcloud secrets versions add gemini-api-key --data-file=-
# (docs/deploy.md). `latest` is read at instance start: a rotated key reaches new instances.

locals {
  # variable → secret id, and who may read it.
  secrets = {
    GEMINI_API_KEY              = { id = "gemini-api-key", readers = ["app", "worker"] }
    MAILGUN_API_KEY             = { id = "mailgun-api-key", readers = ["app", "worker"] }
    MAILGUN_WEBHOOK_SIGNING_KEY = { id = "mailgun-webhook-signing-key", readers = ["app"] }
    METRICS_TOKEN               = { id = "metrics-token", readers = ["app", "worker"] }
  }
  service_secrets = { for name, s in local.secrets : name => s.id if contains(s.readers, "app") }
  pool_secrets    = { for name, s in local.secrets : name => s.id if contains(s.readers, "worker") }
}

resource "google_secret_manager_secret" "keys" {
  for_each  = toset([for s in local.secrets : s.id])
  secret_id = each.key
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_iam_member" "readers" {
  for_each  = { for pair in flatten([for s in local.secrets : [for r in s.readers : { id = s.id, reader = r }]]) : "${pair.id} ${pair.reader}" => pair }
  secret_id = google_secret_manager_secret.keys[each.value.id].id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.runtime_members[each.value.reader]
}
