# Runs the gap-filler every minute (Scheduler's shortest period). Scheduler never overlaps two runs of
# its own schedule; retries and manual runs can overlap, which the gap-filler's Firestore lease absorbs.
resource "google_cloud_scheduler_job" "gapfill" {
  project     = var.project_id
  region      = var.region
  name        = var.name
  description = "tickstream: find and backfill coverage holes"
  schedule    = "* * * * *"
  time_zone   = "Etc/UTC"

  # The function's timeout (300 s); a run still going is not a failure to retry.
  attempt_deadline = "300s"

  retry_config {
    retry_count          = 2
    min_backoff_duration = "10s"
    max_backoff_duration = "60s"
    max_doublings        = 2
  }

  http_target {
    uri         = var.target_uri
    http_method = "POST"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({ trigger = "scheduler" }))

    oidc_token {
      service_account_email = var.invoker_service_account_email
      audience              = var.target_uri
    }
  }
}
