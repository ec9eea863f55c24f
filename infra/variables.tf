variable "project_id" {
  type        = string
  description = "Google Cloud project."
}

variable "region" {
  type        = string
  default     = "europe-west1"
  description = "Region of the Cloud Run service, the worker pool and CREMA."
}

variable "image" {
  type        = string
  description = "Container image built by cloudbuild.yaml (REGION-docker.pkg.dev/PROJECT/email-worker/email-worker:TAG)."
}

variable "topology" {
  type        = string
  default     = "push"
  description = "push: one Cloud Run service with /pubsub/push. pull: ingress service + Cloud Run worker pool (see main.tf)."
  validation {
    condition     = contains(["push", "pull"], var.topology)
    error_message = "topology must be push or pull."
  }
}

variable "pull_scaling" {
  type        = string
  default     = "crema"
  description = "pull topology only. crema: scale the worker pool on subscription backlog. fixed: worker_pool_instances instances."
  validation {
    condition     = contains(["crema", "fixed"], var.pull_scaling)
    error_message = "pull_scaling must be crema or fixed."
  }
}

variable "worker_pool_instances" {
  type        = number
  default     = 1
  description = "pull + fixed: instances of the worker pool. pull + crema: the count the pool starts with, until CREMA's first poll."
}

variable "crema_min_instances" {
  type        = number
  default     = 0
  description = "pull + crema: fewest worker-pool instances (0 = none while the subscription is empty)."
}

variable "crema_max_instances" {
  type        = number
  default     = 10
  description = "pull + crema: most worker-pool instances (a cost cap; Gemini quota is the shared limit, docs/runbook.md)."
}

variable "crema_image" {
  type        = string
  default     = "us-central1-docker.pkg.dev/cloud-run-oss-images/crema-v1/autoscaler:1.0"
  description = "Google's pre-built CREMA autoscaler image."
}

variable "crema_scale_down_window_s" {
  type        = number
  default     = 900
  description = "pull + crema: backlog must stay low this long before instances are removed (a removed instance interrupts its jobs)."
}

variable "worker_concurrency" {
  type        = number
  default     = 4
  description = "Jobs one instance runs at once: WORKER_CONCURRENCY (pull) and the service's request concurrency (push)."
}

variable "max_instances" {
  type        = number
  default     = 10
  description = "Most instances of the Cloud Run service (push: jobs in flight ≤ max_instances × worker_concurrency)."
}

variable "min_instances" {
  type        = number
  default     = 0
  description = "Fewest instances of the Cloud Run service (1 removes cold starts for a price)."
}

variable "cpu" {
  type        = string
  default     = "2"
  description = "vCPU per instance (Quarto renders and the Typst compiler are the CPU-heavy steps)."
}

variable "memory" {
  type        = string
  default     = "2Gi"
  description = "Memory per instance."
}

variable "gemini_model" {
  type        = string
  default     = "gemini-2.5-flash"
  description = "GEMINI_MODEL."
}

variable "mailgun_domain" {
  type        = string
  description = "MAILGUN_DOMAIN: the sending domain, e.g. mg.example.com."
}

variable "mailgun_api_url" {
  type        = string
  default     = "https://api.mailgun.net"
  description = "MAILGUN_API_URL (https://api.eu.mailgun.net for EU domains)."
}

variable "allowed_senders" {
  type        = list(string)
  default     = ["*"]
  description = "ALLOWED_SENDERS: addresses, @domain, or *."
}

variable "log_level" {
  type        = string
  default     = "info"
  description = "LOG_LEVEL."
}

variable "extra_env" {
  type        = map(string)
  default     = {}
  description = "More environment for both the service and the worker pool (caps, API settings, TIMEOUT_* overrides — mind the deadline chain)."
}

variable "firestore_location" {
  type        = string
  default     = "eur3"
  description = "Firestore location (multi-region eur3 / nam5, or a region)."
}

variable "firestore_ttl_collections" {
  type        = list(string)
  default     = ["email-worker-ledger", "ingress_records", "ingress_counters"]
  description = "Collection groups whose documents carry `expireAt` and are deleted by a TTL policy (ledger, ingress store)."
}

variable "inbound_silence_hours" {
  type        = number
  default     = 12
  description = "Alert when no job was published for this many hours (inbound mail stopped arriving)."
}

variable "notification_channels" {
  type        = list(string)
  default     = []
  description = "Notification channel ids (projects/…/notificationChannels/…) for every alert."
}

variable "timeout_alert_min_samples" {
  type        = number
  default     = 20
  description = "Fewest operations of a level in the window before its alert may fire (in-process: minSamples)."
}
