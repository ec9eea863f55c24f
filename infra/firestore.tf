# The job ledger (LEDGER=firestore) and the ingress store live in this database. Records carry
# `expireAt`; a TTL policy per collection group deletes them after their retention
# (LEDGER_RETENTION_DAYS, longer than Pub/Sub's 7-day message retention).
resource "google_firestore_database" "ledger" {
  name                    = "(default)"
  location_id             = var.firestore_location
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "PESSIMISTIC"
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"
  depends_on              = [google_project_service.apis]
}

resource "google_firestore_field" "ttl" {
  for_each   = toset(var.firestore_ttl_collections)
  database   = google_firestore_database.ledger.name
  collection = each.key
  field      = "expireAt"
  ttl_config {}
  # A TTL timestamp written on every update needs no index (and an index on it would hot-spot).
  index_config {}
}
