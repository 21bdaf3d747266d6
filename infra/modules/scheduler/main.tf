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

# Runs the compactor every hour (docs/decisions/0028). Its own invoker identity, which may call nothing
# else. A failed run leaves the views exact on the old boundary; the retries and the next hour merge the
# same days again (every merge is idempotent).
resource "google_cloud_scheduler_job" "compactor" {
  project     = var.project_id
  region      = var.region
  name        = var.compactor_job_name
  description = "tickstream: merge settled days into <table>_settled and move the dedup views' boundary"
  schedule    = "0 * * * *"
  time_zone   = "Etc/UTC"

  # The function's timeout (1800 s), Scheduler's longest for an HTTP target.
  attempt_deadline = "1800s"

  retry_config {
    retry_count          = 2
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
    max_doublings        = 2
  }

  http_target {
    uri         = var.compactor_uri
    http_method = "POST"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode(jsonencode({ trigger = "scheduler" }))

    oidc_token {
      service_account_email = var.compactor_invoker_service_account_email
      audience              = var.compactor_uri
    }
  }
}
