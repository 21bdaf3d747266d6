output "service_name" {
  value = google_cloud_run_v2_service.relay.name
}

output "uri" {
  value = google_cloud_run_v2_service.relay.uri
}

output "latest_revision" {
  value = google_cloud_run_v2_service.relay.latest_ready_revision
}
