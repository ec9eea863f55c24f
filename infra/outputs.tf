output "inbound_url" {
  description = "Mailgun route action: store(notify=\"<this URL>\")."
  value       = "${google_cloud_run_v2_service.app.uri}/inbound/mailgun"
}

output "service_url" {
  description = "The Cloud Run service (ingress; push topology: also /pubsub/push)."
  value       = google_cloud_run_v2_service.app.uri
}

output "topology" {
  value = var.topology
}

output "subscription" {
  description = "Jobs subscription, its ack deadline and dead-letter count (engine.tf)."
  value = {
    name                  = google_pubsub_subscription.jobs.name
    ack_deadline_s        = local.ack_deadline_s
    max_delivery_attempts = local.max_delivery_attempts
  }
}

output "dead_letter_subscription" {
  description = "Where dead-lettered jobs wait for inspection and replay (docs/runbook.md)."
  value       = google_pubsub_subscription.dead.name
}

output "worker_pool" {
  description = "The worker pool (pull topology), else null."
  value       = local.is_push ? null : google_cloud_run_v2_worker_pool.worker[0].name
}

output "secrets_to_fill" {
  description = "Secret Manager secrets that need a version before the first start (docs/deploy.md)."
  value       = sort([for s in local.secrets : s.id])
}
