# Pull topology with pull_scaling = "crema": Google's Cloud Run External Metrics Autoscaler
# (https://github.com/GoogleCloudPlatform/cloud-run-external-metrics-autoscaling, Preview) runs
# as a small always-on service, polls the subscription's backlog through KEDA's gcp-pubsub scaler
# and sets the worker pool's instance count: ceil(undelivered messages / worker_concurrency),
# within crema_min_instances … crema_max_instances. Its configuration is a Parameter Manager
# parameter; a changed configuration is a new parameter version.

locals {
  crema_config = yamlencode({
    apiVersion = "crema/v1"
    kind       = "CremaConfig"
    spec = {
      pollingInterval = 30
      triggerAuthentications = [{
        metadata = { name = "gcp" }
        spec     = { podIdentity = { provider = "gcp" } }
      }]
      scaledObjects = [{
        spec = {
          scaleTargetRef  = { name = "projects/${var.project_id}/locations/${var.region}/workerpools/email-worker-pool" }
          minReplicaCount = var.crema_min_instances
          maxReplicaCount = var.crema_max_instances
          triggers = [{
            type = "gcp-pubsub"
            name = "jobs-backlog"
            metadata = {
              subscriptionName = google_pubsub_subscription.jobs.name
              # Undelivered + unacknowledged messages: queued jobs and the ones running.
              mode            = "SubscriptionSize"
              value           = tostring(var.worker_concurrency)
              activationValue = "0"
            }
            authenticationRef = { name = "gcp" }
          }]
          advanced = {
            horizontalPodAutoscalerConfig = {
              behavior = {
                # Removing an instance interrupts its jobs (they resume elsewhere from the ledger,
                # with what is left of their budget): scale down slowly, up at once.
                scaleDown = { stabilizationWindowSeconds = var.crema_scale_down_window_s, policies = [{ type = "Pods", value = 1, periodSeconds = 300 }] }
                scaleUp   = { stabilizationWindowSeconds = 0, policies = [{ type = "Percent", value = 100, periodSeconds = 30 }] }
              }
            }
          }
        }
      }]
    }
  })
}

resource "google_parameter_manager_parameter" "crema" {
  count        = local.use_crema ? 1 : 0
  parameter_id = "email-worker-crema"
  format       = "YAML"
  depends_on   = [google_project_service.apis]
}

resource "google_parameter_manager_parameter_version" "crema" {
  count                = local.use_crema ? 1 : 0
  parameter            = google_parameter_manager_parameter.crema[0].id
  parameter_version_id = "v-${substr(sha256(local.crema_config), 0, 12)}"
  parameter_data       = local.crema_config
}

resource "google_project_iam_member" "crema" {
  for_each = local.use_crema ? toset(["roles/parametermanager.parameterViewer", "roles/monitoring.viewer"]) : toset([])
  project  = var.project_id
  role     = each.key
  member   = "serviceAccount:${google_service_account.crema[0].email}"
}

resource "google_cloud_run_v2_worker_pool_iam_member" "crema_scaler" {
  count    = local.use_crema ? 1 : 0
  name     = google_cloud_run_v2_worker_pool.worker[0].name
  location = var.region
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.crema[0].email}"
}

resource "google_service_account_iam_member" "crema_acts_as_worker" {
  count              = local.use_crema ? 1 : 0
  service_account_id = google_service_account.worker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.crema[0].email}"
}

resource "google_cloud_run_v2_service" "crema" {
  count               = local.use_crema ? 1 : 0
  name                = "email-worker-crema"
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false
  depends_on          = [google_project_iam_member.crema, google_cloud_run_v2_worker_pool_iam_member.crema_scaler]

  template {
    service_account = google_service_account.crema[0].email
    scaling {
      # One poller: two would race each other (CREMA README, known issues).
      min_instance_count = 1
      max_instance_count = 1
    }
    containers {
      image = var.crema_image
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = false
      }
      env {
        name  = "CREMA_CONFIG"
        value = google_parameter_manager_parameter_version.crema[0].id
      }
      env {
        name  = "OUTPUT_SCALER_METRICS"
        value = "False"
      }
    }
  }
}
