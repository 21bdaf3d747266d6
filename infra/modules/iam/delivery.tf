# The two build identities (docs/decisions/0023): CI runs the install, lint and tests of third-party code
# and publishes what it built, with no right to deploy; CD deploys exactly what CI published and runs no
# third-party install or test. Both are created by an Owner's first, targeted apply (docs/DEPLOY.md).

resource "google_service_account" "ci" {
  project      = var.project_id
  account_id   = "tickstream-ci"
  display_name = "tickstream CI (Cloud Build, cloudbuild.ci.yaml): tests and publishes, never deploys"
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "tickstream-deployer"
  display_name = "tickstream deployer (Cloud Build, cloudbuild.yaml): applies Terraform with CI's artifacts"
}

# ---------------------------------------------------------------------------------------------------------
# CI: its build logs, the relay image into our repository, the function zips and the release manifest
# into the sources bucket (create only: it cannot replace or delete an object once written).

resource "google_project_iam_member" "ci_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.ci.email}"
}

resource "google_artifact_registry_repository_iam_member" "ci_pushes_relay_image" {
  project    = var.project_id
  location   = var.region
  repository = var.docker_repository
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.ci.email}"
}

resource "google_storage_bucket_iam_member" "ci_publishes_release" {
  bucket = var.source_bucket
  role   = "roles/storage.objectCreator"
  member = "serviceAccount:${google_service_account.ci.email}"
}

resource "google_storage_bucket_iam_member" "ci_reads_release" {
  bucket = var.source_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.ci.email}"
}

# ---------------------------------------------------------------------------------------------------------
# Deployer: what `terraform apply` of infra/ needs, project-wide (each role's reason: docs/DEPLOY.md and
# infra/iam-allowlist.json). No primitive role; it never runs npm or the tests.

locals {
  deployer_project_roles = [
    "roles/run.admin",
    "roles/cloudfunctions.developer",
    "roles/iam.serviceAccountAdmin",
    "roles/iam.serviceAccountUser",
    "roles/iam.roleAdmin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/pubsub.admin",
    "roles/bigquery.dataOwner",
    "roles/datastore.owner",
    "roles/secretmanager.admin",
    "roles/cloudscheduler.admin",
    "roles/monitoring.editor",
    "roles/logging.configWriter",
    "roles/logging.logWriter",
    "roles/artifactregistry.admin",
    "roles/storage.admin",
    "roles/serviceusage.serviceUsageConsumer",
  ]
}

resource "google_project_iam_member" "deployer" {
  for_each = toset(local.deployer_project_roles)
  project  = var.project_id
  role     = each.value
  member   = "serviceAccount:${google_service_account.deployer.email}"
}
