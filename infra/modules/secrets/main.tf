# The secret only: its value is added by a person (docs/DEPLOY.md), never by Terraform, so the key is in
# neither the repository nor the state. Access is granted in modules/iam, to the gap-filler alone.
resource "google_secret_manager_secret" "tardis_api_key" {
  project   = var.project_id
  secret_id = "tardis-api-key"

  replication {
    auto {}
  }
}
