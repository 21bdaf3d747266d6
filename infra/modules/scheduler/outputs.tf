output "job_name" {
  value = google_cloud_scheduler_job.gapfill.name
}

output "compactor_job_name" {
  value = google_cloud_scheduler_job.compactor.name
}
