output "service_name" {
  description = "The function's Cloud Run service (same name as the function)."
  value       = google_cloudfunctions2_function.writer.name
}

output "uri" {
  description = "The run.app URL push requests go to."
  value       = google_cloudfunctions2_function.writer.service_config[0].uri
}

output "source_object" {
  value = google_storage_bucket_object.source.name
}
