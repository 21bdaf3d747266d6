output "alert_policies" {
  value = concat([
    google_monitoring_alert_policy.checkpoint_age.name,
    google_monitoring_alert_policy.gap_open.name,
    google_monitoring_alert_policy.dead_letters.name,
    google_monitoring_alert_policy.relay_heartbeat.name,
    google_monitoring_alert_policy.writer_errors.name,
  ], [for policy in google_monitoring_alert_policy.signal : policy.name])
}

output "dashboard" {
  value = google_monitoring_dashboard.pipeline.id
}
