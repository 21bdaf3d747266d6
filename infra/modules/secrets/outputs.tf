output "tardis_api_key_secret_id" {
  value = google_secret_manager_secret.tardis_api_key.secret_id
}
