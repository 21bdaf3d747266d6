output "repository_id" {
  description = "projects/P/locations/R/repositories/N"
  value       = google_artifact_registry_repository.images.id
}

output "repository_name" {
  value = google_artifact_registry_repository.images.repository_id
}

output "source_bucket" {
  value = google_storage_bucket.sources.name
}
