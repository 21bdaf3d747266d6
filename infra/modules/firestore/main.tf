# The (default) database in Native mode. A project that already has one: terraform import
# module.firestore.google_firestore_database.this "projects/PROJECT/databases/(default)".
resource "google_firestore_database" "this" {
  project                 = var.project_id
  name                    = "(default)"
  location_id             = var.location
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "PESSIMISTIC" # Native mode's default: server SDK transactions lock what they read
  delete_protection_state = "DELETE_PROTECTION_ENABLED"
  deletion_policy         = "ABANDON"
}

# TTL policies: documents whose expireAt (a Firestore timestamp, not a number) has passed are deleted,
# typically within 24 h, so stale heartbeats and leases of dead instances do not pile up. The single-field
# index on expireAt is switched off: nothing queries it and a timestamp index hot-spots under writes.
resource "google_firestore_field" "heartbeat_ttl" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = var.heartbeats
  field      = var.ttl_field

  ttl_config {}
  index_config {}
}

resource "google_firestore_field" "lease_ttl" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = var.leases
  field      = var.ttl_field

  ttl_config {}
  index_config {}
}

# Relay fleet members of dead instances (SIGKILL, crash): a clean exit deletes its own document, and a
# member is judged dead by its heartbeat long before this cleanup (docs/decisions/0021).
resource "google_firestore_field" "member_ttl" {
  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = var.members
  field      = var.ttl_field

  ttl_config {}
  index_config {}
}
