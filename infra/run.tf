resource "google_secret_manager_secret" "keys" {
  for_each  = toset(["gemini-api-key", "mailgun-api-key", "mailgun-webhook-signing-key"])
  secret_id = each.key
  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "worker" {
  for_each  = google_secret_manager_secret.keys
  secret_id = each.value.id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.worker.email}"
}

resource "google_cloud_run_v2_service" "worker" {
  name     = "email-worker"
  location = var.region

  template {
    service_account = google_service_account.worker.email
    # 60-minute request limit: hardTimeout 3000 s < 3600 s − SHUTDOWN_GRACE_S (deadline chain).
    timeout = "3600s"
    scaling {
      # The pull worker needs an instance that is always up.
      min_instance_count = 1
      max_instance_count = 10
    }
    containers {
      image = var.image
      resources {
        limits = {
          cpu    = "2"
          memory = "2Gi"
        }
        # The streaming pull runs outside requests: no CPU throttling.
        cpu_idle = false
      }
      env {
        name  = "EMAIL_PROCESSING_MODE"
        value = "true"
      }
      env {
        name  = "WORKER_MODE"
        value = "pull"
      }
      env {
        name  = "CLOUD_RUN_TIMEOUT_S"
        value = "3600"
      }
      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "PUBSUB_MAX_DELIVERY_ATTEMPTS"
        value = tostring(var.max_delivery_attempts)
      }
      dynamic "env" {
        for_each = {
          GEMINI_API_KEY              = "gemini-api-key"
          MAILGUN_API_KEY             = "mailgun-api-key"
          MAILGUN_WEBHOOK_SIGNING_KEY = "mailgun-webhook-signing-key"
        }
        content {
          name = env.key
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.keys[env.value].secret_id
              version = "latest"
            }
          }
        }
      }
      startup_probe {
        http_get {
          path = "/readyz"
        }
      }
      liveness_probe {
        http_get {
          path = "/healthz"
        }
      }
    }
  }
}
