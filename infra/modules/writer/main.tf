# The writer: a Cloud Run function (functions-framework target `writer`) behind the push subscription.
# Its source is the zip Cloud Build packages; the object name is the zip's MD5, so a new build of
# unchanged code redeploys nothing and every deployed source stays addressable for a rollback.

resource "google_storage_bucket_object" "source" {
  name   = "writer/${filemd5(var.source_zip)}.zip"
  bucket = var.source_bucket
  source = var.source_zip
}

resource "google_cloudfunctions2_function" "writer" {
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = "tickstream writer: Pub/Sub push -> BigQuery insertAll -> Firestore checkpoints"

  build_config {
    runtime           = "nodejs22"
    entry_point       = "writer"
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
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    available_cpu                    = "1"
    available_memory                 = "512Mi"
    max_instance_request_concurrency = 16
    # At least the push ack deadline (120 s): the request is never cut before Pub/Sub gives up on it.
    timeout_seconds                = 120
    service_account_email          = var.service_account_email
    all_traffic_on_latest_revision = true

    # Pub/Sub push from this project counts as internal traffic; nothing else may reach the writer.
    ingress_settings = "ALLOW_INTERNAL_ONLY"

    # The writer checks the push OIDC token itself (defence in depth behind Cloud Run's invoker check):
    # the push identity and the pinned audience, without which it refuses to start. The switch that
    # turns the check off is for local runs and never set here (an infra test holds that). The writer's
    # delivery deadline (40 s default) stays well below the push ack deadline (120 s).
    environment_variables = {
      GOOGLE_CLOUD_PROJECT      = var.project_id
      BIGQUERY_DATASET          = var.dataset
      CHECKPOINTS_COLLECTION    = var.checkpoints
      LOG_LEVEL                 = var.log_level
      PUSH_AUTH_SERVICE_ACCOUNT = var.push_service_account
      PUSH_AUTH_AUDIENCE        = var.push_audience
      # A group document at most every 5 s: Firestore writes follow groups / 5 s (docs/COST.md); the
      # gap-filler's settle time (20 s) stays well above this checkpoint lag (decisions/0029).
      CHECKPOINT_MIN_INTERVAL_MS = "5000"
    }
  }
}
