# email-worker on Google Cloud. One variable, `topology`, picks how jobs reach the worker:
#
#   push  one Cloud Run service: the ingress (/inbound/mailgun, /v1) and POST /pubsub/push, which
#         holds the request while the job runs. Cloud Run scales it on held requests, from zero.
#         Pick it for bursty or low volume: no instance runs while no mail arrives.
#   pull  the same image twice: a Cloud Run service for the ingress only, and a Cloud Run worker
#         pool running the streaming-pull worker, scaled on the subscription's backlog by CREMA
#         (Cloud Run External Metrics Autoscaler, KEDA's gcp-pubsub scaler) or held at a fixed
#         count. Pick it for steady volume, or when jobs must not depend on a held HTTP request.
#
# Apply: terraform init && terraform apply -var project_id=… -var image=… -var topology=push
# (docs/deploy.md walks through it). Every timing below comes from the timeout engine and is
# checked against it by test/infra.test.ts, which parses these files.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source = "hashicorp/google"
      # google_cloud_run_v2_worker_pool appeared in provider 6.37/6.38 (launch stage BETA); its
      # `scaling` block (scaling_mode, manual_instance_count) is documented from 6.49, and Google's
      # CREMA sample asks for >= 6.45. 6.50 has everything used here.
      version = ">= 6.50.0, < 8.0.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_project" "this" {}

locals {
  is_push   = var.topology == "push"
  use_crema = !local.is_push && var.pull_scaling == "crema"
  # Pub/Sub's service agent: publishes dead letters, acknowledges the source, signs push tokens.
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_project_service" "apis" {
  for_each = toset(concat(
    ["run.googleapis.com", "pubsub.googleapis.com", "firestore.googleapis.com", "secretmanager.googleapis.com",
    "monitoring.googleapis.com", "logging.googleapis.com", "iam.googleapis.com"],
    local.use_crema ? ["parametermanager.googleapis.com"] : [],
  ))
  service            = each.key
  disable_on_destroy = false
}
