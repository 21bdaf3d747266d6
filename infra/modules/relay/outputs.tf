output "service_names" {
  description = "Pool -> Cloud Run service name."
  value       = { for pool, s in google_cloud_run_v2_service.relay : pool => s.name }
}

output "uris" {
  value = { for pool, s in google_cloud_run_v2_service.relay : pool => s.uri }
}

output "images" {
  description = "Pool -> the image its template runs (CD holds pool b at this while it rolls pool a)."
  value       = { for pool, s in google_cloud_run_v2_service.relay : pool => s.template[0].containers[0].image }
}
