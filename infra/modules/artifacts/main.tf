# Artifact Registry holds the relay image (pushed by Cloud Build) and the functions' built images
# (pushed by their builds); the bucket holds the functions' source zips. Cloud Build applies this module
# alone (terraform apply -target=module.artifacts) before its first image push.

resource "google_artifact_registry_repository" "images" {
  project       = var.project_id
  location      = var.region
  repository_id = var.repository
  format        = "DOCKER"
  description   = "tickstream relay image and the writer/gap-filler function images"
}

resource "google_storage_bucket" "sources" {
  project                     = var.project_id
  name                        = "${var.project_id}-tickstream-sources"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  # Objects are content-addressed (<function>/<md5>.zip) and never overwritten; the old ones are what
  # a rollback of a function's source points back to, so keep them for a while.
  lifecycle_rule {
    condition {
      age = 180
    }
    action {
      type = "Delete"
    }
  }
}
