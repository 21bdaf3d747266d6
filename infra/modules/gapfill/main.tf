# The gap-filler: a Cloud Run function (functions-framework target `gapfill`) that Cloud Scheduler calls
# every minute. It takes a Firestore lease, so overlapping calls (a retry, a manual run) do no harm.

resource "google_storage_bucket_object" "source" {
  name   = "gapfill/${filemd5(var.source_zip)}.zip"
  bucket = var.source_bucket
  source = var.source_zip
}

resource "google_cloudfunctions2_function" "gapfill" {
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = "tickstream gap-filler: finds holes in coverage and backfills them from Tardis.dev"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "gapfill"
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
    min_instance_count               = 0
    max_instance_count               = 2
    available_cpu                    = "1"
    available_memory                 = "1Gi" # decompressing and normalizing minute slices
    max_instance_request_concurrency = 1
    timeout_seconds                  = 300
    service_account_email            = var.service_account_email
    all_traffic_on_latest_revision   = true

    # Cloud Scheduler in this project counts as internal traffic.
    ingress_settings = "ALLOW_INTERNAL_ONLY"

    environment_variables = {
      GOOGLE_CLOUD_PROJECT   = var.project_id
      BIGQUERY_DATASET       = var.dataset
      CHECKPOINTS_COLLECTION = var.checkpoints
      GAPS_COLLECTION        = var.gaps
      LEASES_COLLECTION      = var.leases
      TARDIS_API_ENDPOINT    = var.tardis_api_endpoint
      LOG_LEVEL              = var.log_level
      RELAY_STREAMS          = var.streams
      # Holes from the checkpoints' committed spans: no BigQuery bytes per run (decisions/0029); the
      # default settle (20 s) is above the writers' checkpoint lag (5 s interval).
      GAPFILL_DETECTION = "checkpoints"
    }

    # A pinned version, never latest: a new key reaches the gap-filler only through a reviewed apply.
    # The deploy fails while that version does not exist: add the key first (docs/DEPLOY.md).
    secret_environment_variables {
      key        = "TARDIS_API_KEY"
      project_id = var.project_id
      secret     = var.tardis_api_key_secret
      version    = var.tardis_key_version
    }
  }
}
