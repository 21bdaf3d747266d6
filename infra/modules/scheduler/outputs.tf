output "job_name" {
  value = google_cloud_scheduler_job.gapfill.name
}
