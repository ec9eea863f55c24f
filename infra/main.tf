# email-worker infrastructure (Google Cloud). Apply with: terraform init && terraform apply
# -var project_id=… . Kept consistent with the deadline chain that `email-worker explain` checks.

terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.0"
    }
  }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

variable "project_id" {
  type        = string
  description = "Google Cloud project."
}

variable "region" {
  type        = string
  default     = "europe-west1"
  description = "Region of the Cloud Run service."
}

variable "image" {
  type        = string
  description = "Container image built by cloudbuild.yaml."
}

variable "max_delivery_attempts" {
  type        = number
  default     = 5
  description = "Deliveries before dead-lettering (Pub/Sub allows 5–100). Must equal PUBSUB_MAX_DELIVERY_ATTEMPTS."
}

resource "google_service_account" "worker" {
  account_id   = "email-worker"
  display_name = "email-worker runtime"
}
