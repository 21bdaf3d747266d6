# Every service account and every IAM grant of the pipeline, in this module: the runtime identities here,
# the custom roles in roles.tf, the CI and deployer identities in delivery.tf. infra/iam-allowlist.json lists
# the same grants as data, and test/integration/infra.test.ts fails when the two differ in either direction.
# Grants are additive (*_iam_member): nothing here removes access someone else granted.

locals {
  pubsub_service_agent = "serviceAccount:service-${var.project_number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# ---------------------------------------------------------------------------------------------------------
# Service accounts, one per component.

resource "google_service_account" "relay" {
  project      = var.project_id
  account_id   = "tickstream-relay"
  display_name = "tickstream relay (Cloud Run): publishes tick batches"
}

resource "google_service_account" "writer" {
  project      = var.project_id
  account_id   = "tickstream-writer"
  display_name = "tickstream writer (function): inserts rows, advances checkpoints"
}

resource "google_service_account" "gapfill" {
  project      = var.project_id
  account_id   = "tickstream-gapfill"
  display_name = "tickstream gap-filler (function): backfills holes from Tardis.dev"
}

resource "google_service_account" "compactor" {
  project      = var.project_id
  account_id   = "tickstream-compactor"
  display_name = "tickstream compactor (function): merges settled days, publishes the dedup views' boundary"
}

resource "google_service_account" "scheduler_invoker" {
  project      = var.project_id
  account_id   = "tickstream-scheduler"
  display_name = "tickstream Cloud Scheduler identity: invokes the gap-filler"
}

resource "google_service_account" "compactor_invoker" {
  project      = var.project_id
  account_id   = "tickstream-compactor-sched"
  display_name = "tickstream Cloud Scheduler identity: invokes the compactor"
}

resource "google_service_account" "push_invoker" {
  project      = var.project_id
  account_id   = "tickstream-push"
  display_name = "tickstream Pub/Sub push identity: invokes the writer"
}

# Cloud Run functions build with the default compute service account unless told otherwise, and new
# projects give that account no roles (so builds fail) or old ones give it Editor (far too much).
resource "google_service_account" "function_builder" {
  project      = var.project_id
  account_id   = "tickstream-fn-build"
  display_name = "tickstream function builds (Cloud Build for the writer, gap-filler and compactor)"
}

# ---------------------------------------------------------------------------------------------------------
# relay: publish to the ticks topic; read checkpoints, record startup gaps and write its liveness record
# in Firestore (Cloud Run collects stdout logs without a role).

resource "google_pubsub_topic_iam_member" "relay_publishes_ticks" {
  project = var.project_id
  topic   = var.ticks_topic
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.relay.email}"
}

# Firestore has no per-collection IAM; datastore.user is the least role that reads and writes documents.
resource "google_project_iam_member" "relay_uses_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.relay.email}"
}

# ---------------------------------------------------------------------------------------------------------
# writer: AppendRows (or insertAll) into the dataset's tables (a custom role on the dataset: it can add rows but not
# create, alter, read or drop tables) and read-modify-write checkpoint documents.

resource "google_bigquery_dataset_iam_member" "writer_inserts_rows" {
  project    = var.project_id
  dataset_id = var.dataset
  role       = google_project_iam_custom_role.row_writer.name
  member     = "serviceAccount:${google_service_account.writer.email}"
}

# Firestore has no per-collection IAM; datastore.user is the least role that reads and writes documents.
resource "google_project_iam_member" "writer_uses_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.writer.email}"
}

# ---------------------------------------------------------------------------------------------------------
# gap-filler: query coverage and trades (its own query jobs, reading the dataset's tables), insert
# backfilled rows, keep the lease and the gap ledger, read the Tardis.dev API key. Custom roles: it can
# add and read rows but not create, alter or drop tables.

resource "google_bigquery_dataset_iam_member" "gapfill_inserts_rows" {
  project    = var.project_id
  dataset_id = var.dataset
  role       = google_project_iam_custom_role.row_writer.name
  member     = "serviceAccount:${google_service_account.gapfill.email}"
}

resource "google_bigquery_dataset_iam_member" "gapfill_reads_rows" {
  project    = var.project_id
  dataset_id = var.dataset
  role       = google_project_iam_custom_role.row_reader.name
  member     = "serviceAccount:${google_service_account.gapfill.email}"
}

# Query jobs belong to the project: BigQuery has no dataset-level jobs.create.
resource "google_project_iam_member" "gapfill_runs_queries" {
  project = var.project_id
  role    = google_project_iam_custom_role.query_runner.name
  member  = "serviceAccount:${google_service_account.gapfill.email}"
}

resource "google_project_iam_member" "gapfill_uses_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = "serviceAccount:${google_service_account.gapfill.email}"
}

resource "google_secret_manager_secret_iam_member" "gapfill_reads_tardis_key" {
  project   = var.project_id
  secret_id = var.tardis_secret
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.gapfill.email}"
}

# ---------------------------------------------------------------------------------------------------------
# compactor (docs/decisions/0028): its query jobs read the compacted base tables and the gaps mirror,
# MERGE into the _settled tables, and rewrite the two compacted views' SQL. Table-level grants only: it
# cannot read any other table nor touch any other table or view, and it has no Firestore access.

resource "google_project_iam_member" "compactor_runs_queries" {
  project = var.project_id
  role    = google_project_iam_custom_role.query_runner.name
  member  = "serviceAccount:${google_service_account.compactor.email}"
}

resource "google_bigquery_table_iam_member" "compactor_reads_compacted_tables" {
  for_each = toset(var.compacted_tables)

  project    = var.project_id
  dataset_id = var.dataset
  table_id   = each.value
  role       = google_project_iam_custom_role.row_reader.name
  member     = "serviceAccount:${google_service_account.compactor.email}"
}

resource "google_bigquery_table_iam_member" "compactor_reads_gaps" {
  project    = var.project_id
  dataset_id = var.dataset
  table_id   = var.gaps_table
  role       = google_project_iam_custom_role.row_reader.name
  member     = "serviceAccount:${google_service_account.compactor.email}"
}

resource "google_bigquery_table_iam_member" "compactor_merges_settled_tables" {
  for_each = toset(var.settled_tables)

  project    = var.project_id
  dataset_id = var.dataset
  table_id   = each.value
  role       = google_project_iam_custom_role.settled_merger.name
  member     = "serviceAccount:${google_service_account.compactor.email}"
}

resource "google_bigquery_table_iam_member" "compactor_publishes_views" {
  for_each = toset(var.compacted_views)

  project    = var.project_id
  dataset_id = var.dataset
  table_id   = each.value
  role       = google_project_iam_custom_role.view_publisher.name
  member     = "serviceAccount:${google_service_account.compactor.email}"
}

# ---------------------------------------------------------------------------------------------------------
# Invokers: each may call exactly one service.

resource "google_cloud_run_v2_service_iam_member" "scheduler_invokes_gapfill" {
  project  = var.project_id
  location = var.region
  name     = var.gapfill_service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler_invoker.email}"
}

resource "google_cloud_run_v2_service_iam_member" "scheduler_invokes_compactor" {
  project  = var.project_id
  location = var.region
  name     = var.compactor_service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.compactor_invoker.email}"
}

resource "google_cloud_run_v2_service_iam_member" "push_invokes_writer" {
  project  = var.project_id
  location = var.region
  name     = var.writer_service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push_invoker.email}"
}

# ---------------------------------------------------------------------------------------------------------
# Function builds: write build logs, read the source zips, push the built images to our repository.

resource "google_project_iam_member" "builder_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.function_builder.email}"
}

resource "google_storage_bucket_iam_member" "builder_reads_sources" {
  bucket = var.source_bucket
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.function_builder.email}"
}

resource "google_artifact_registry_repository_iam_member" "builder_pushes_images" {
  project    = var.project_id
  location   = var.region
  repository = var.docker_repository
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.function_builder.email}"
}

# ---------------------------------------------------------------------------------------------------------
# Pub/Sub service agent: dead-lettering needs publisher on the dead-letter topic and subscriber on the
# source subscription (to ack what it forwarded). Without these, messages are never dead-lettered.

resource "google_pubsub_topic_iam_member" "pubsub_agent_publishes_dead_letters" {
  project = var.project_id
  topic   = var.dead_letter_topic
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_service_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks_push_subscription" {
  project      = var.project_id
  subscription = var.push_subscription
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_service_agent
}
