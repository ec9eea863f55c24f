# The Cloud Run service (both topologies) and the worker pool (pull topology).

locals {
  push_audience = "email-worker-push"

  # Environment of every instance. Values from engine.tf are checked against the engine.
  common_env = {
    EMAIL_PROCESSING_MODE                  = "true"
    GOOGLE_CLOUD_PROJECT                   = var.project_id
    LOG_LEVEL                              = var.log_level
    WORKER_CONCURRENCY                     = tostring(var.worker_concurrency)
    PUBSUB_TOPIC                           = local.topic_name
    PUBSUB_SUBSCRIPTION                    = local.subscription_name
    PUBSUB_DEAD_LETTER_TOPIC               = local.dead_topic_name
    PUBSUB_DEAD_LETTER_NOTICE_SUBSCRIPTION = local.notice_subscription_name
    PUBSUB_MAX_DELIVERY_ATTEMPTS           = tostring(local.max_delivery_attempts)
    CLOUD_RUN_TIMEOUT_S                    = tostring(local.cloud_run_timeout_s)
    SHUTDOWN_GRACE_S                       = tostring(local.shutdown_grace_s)
    LEDGER                                 = "firestore"
    GEMINI_MODEL                           = var.gemini_model
    MAILGUN_DOMAIN                         = var.mailgun_domain
    MAILGUN_API_URL                        = var.mailgun_api_url
    ALLOWED_SENDERS                        = join(",", var.allowed_senders)
    QUARTO_PATH                            = "/usr/local/bin/quarto"
  }
  # The service never pulls: in push topology it takes /pubsub/push, in pull topology it is the
  # ingress only (no subscription pushes to it, and the route refuses unsigned calls).
  service_env = {
    WORKER_MODE          = "push"
    PUSH_AUDIENCE        = local.push_audience
    PUSH_SERVICE_ACCOUNT = google_service_account.push.email
    REQUIRE_PUSH_AUTH    = "true"
  }
  pool_env = {
    WORKER_MODE = "pull"
  }

  # Google Cloud Managed Service for Prometheus sidecar: scrapes the app's /metrics on :8080 for
  # the T1–T5 alerts and the dashboard (alerts.tf, dashboard.tf).
  prometheus_sidecar_image = "us-docker.pkg.dev/cloud-ops-agents-artifacts/cloud-run-gmp-sidecar/cloud-run-gmp-sidecar:1.2.0"
}

resource "google_cloud_run_v2_service" "app" {
  name                = "email-worker"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false
  # Readiness needs its roles in place (Pub/Sub, Firestore) and its secrets readable.
  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.readers, google_project_iam_member.firestore_user, google_pubsub_topic_iam_member.viewer]

  template {
    service_account = google_service_account.app.email
    # A push request is held while its job runs: hardTimeout 3000 s + SHUTDOWN_GRACE_S < 3600 s.
    timeout                          = "${local.cloud_run_timeout_s}s"
    max_instance_request_concurrency = var.worker_concurrency
    scaling {
      min_instance_count = var.min_instances
      max_instance_count = var.max_instances
    }

    containers {
      name  = "app"
      image = var.image
      ports {
        container_port = 8080
      }
      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
        # No CPU throttling: Pub/Sub stops waiting for a push request after its 600 s ack deadline
        # and the job carries on without a request; lease heartbeats run between requests.
        cpu_idle = false
        # Start-up is CPU-bound module loading: a scaled-from-zero push instance answers sooner.
        startup_cpu_boost = true
      }
      dynamic "env" {
        for_each = merge(local.common_env, local.service_env, var.extra_env)
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.service_secrets
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
      # The app opens its port only when a push can be processed at once (the ledger answers;
      # src/http/readiness.ts), so a TCP connect is the readiness check. This is Cloud Run's default
      # startup probe, written out: one attempt that keeps trying to connect for up to 240 s, which
      # sees the port the moment it opens. An HTTP probe polls at most once a second and would round
      # every cold start up to the next whole second. The app gives up after startupReadyBudgetS
      # (120 s, inside this window) and exits with EW_ERR_NOT_READY in its log.
      startup_probe {
        timeout_seconds   = 240
        period_seconds    = 240
        failure_threshold = 1
        tcp_socket {
          port = 8080
        }
      }
      liveness_probe {
        period_seconds = 30
        http_get {
          path = "/healthz"
        }
      }
    }

    containers {
      name       = "prometheus"
      image      = local.prometheus_sidecar_image
      depends_on = ["app"]
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
      }
    }
  }
}

# Pull topology: the streaming-pull worker as a worker pool (no requests, no request timeout; the
# client extends each message's lease for the whole job). CREMA changes manual_instance_count
# between applies; an apply resets it to worker_pool_instances until CREMA's next poll (30 s).
resource "google_cloud_run_v2_worker_pool" "worker" {
  count               = local.is_push ? 0 : 1
  name                = "email-worker-pool"
  location            = var.region
  launch_stage        = "BETA"
  deletion_protection = false
  # Readiness needs its roles in place (Pub/Sub, Firestore) and its secrets readable.
  depends_on = [google_project_service.apis, google_secret_manager_secret_iam_member.readers, google_project_iam_member.firestore_user, google_pubsub_topic_iam_member.viewer]

  scaling {
    scaling_mode          = "MANUAL"
    manual_instance_count = var.worker_pool_instances
  }

  template {
    service_account = google_service_account.worker.email
    containers {
      name  = "worker"
      image = var.image
      resources {
        limits = {
          cpu    = var.cpu
          memory = var.memory
        }
      }
      dynamic "env" {
        for_each = merge(local.common_env, local.pool_env, var.extra_env)
        content {
          name  = env.key
          value = env.value
        }
      }
      dynamic "env" {
        for_each = local.pool_secrets
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
    }
    containers {
      name       = "prometheus"
      image      = local.prometheus_sidecar_image
      depends_on = ["worker"]
    }
  }
}
