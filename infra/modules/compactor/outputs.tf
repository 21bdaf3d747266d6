output "service_name" {
  description = "The function's Cloud Run service (same name as the function)."
  value       = google_cloudfunctions2_function.compactor.name
}

output "uri" {
  description = "The run.app URL Cloud Scheduler calls."
  value       = google_cloudfunctions2_function.compactor.service_config[0].uri
}

output "source_object" {
  value = google_storage_bucket_object.source.name
}
