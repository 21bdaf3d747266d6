# The compactor (docs/decisions/0028): a Cloud Run function (functions-framework target `compactor`) that
# Cloud Scheduler calls every hour. One call merges the settled days of quotes and derivative tickers into
# their `_settled` tables and publishes each dedup view's new boundary. Every merge is idempotent and the
# boundary moves only after its days are merged, so a retried or overlapping call does no harm.

resource "google_storage_bucket_object" "source" {
  name   = "compactor/${filemd5(var.source_zip)}.zip"
  bucket = var.source_bucket
  source = var.source_zip
}

resource "google_cloudfunctions2_function" "compactor" {
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = "tickstream compactor: merges settled days into <table>_settled and moves the dedup views' boundary"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "compactor"
    service_account   = var.build_service_account
    docker_repository = var.docker_repository

    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    min_instance_count = 0
    # One run at a time: a call arriving while a run is going is refused (429) and Scheduler retries it.
    max_instance_count               = 1
    max_instance_request_concurrency = 1
    available_cpu                    = "1"
    available_memory                 = "512Mi" # BigQuery does the merging; the function only sends statements
    # A run sends its statements one after another (each bounded by COMPACTOR_JOB_TIMEOUT_MS); a first run
    # over existing history settles up to COMPACTOR_MAX_NEW_DAYS days of two tables. 30 min is also the
    # longest attempt deadline Cloud Scheduler allows for an HTTP target.
    timeout_seconds                = 1800
    service_account_email          = var.service_account_email
    all_traffic_on_latest_revision = true

    # Cloud Scheduler in this project counts as internal traffic.
    ingress_settings = "ALLOW_INTERNAL_ONLY"

    environment_variables = {
      GOOGLE_CLOUD_PROJECT = var.project_id
      BIGQUERY_DATASET     = var.dataset
      LOG_LEVEL            = var.log_level
    }
  }
}
