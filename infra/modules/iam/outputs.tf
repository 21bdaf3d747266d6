# The runtime identities are handed out only once their grants exist, so a first deploy does not start
# a component that is refused its first calls (IAM can still take a minute to propagate; all retry).
output "relay_email" {
  value = google_service_account.relay.email
  depends_on = [
    google_pubsub_topic_iam_member.relay_publishes_ticks,
    google_project_iam_member.relay_uses_firestore,
  ]
}

output "writer_email" {
  value = google_service_account.writer.email
  depends_on = [
    google_bigquery_dataset_iam_member.writer_inserts_rows,
    google_project_iam_member.writer_uses_firestore,
  ]
}

output "gapfill_email" {
  description = "The gap-filler's identity, once it may read the Tardis key (the deploy checks secret access)."
  value       = google_service_account.gapfill.email
  depends_on = [
    google_secret_manager_secret_iam_member.gapfill_reads_tardis_key,
    google_bigquery_dataset_iam_member.gapfill_inserts_rows,
    google_bigquery_dataset_iam_member.gapfill_reads_rows,
    google_project_iam_member.gapfill_runs_queries,
    google_project_iam_member.gapfill_uses_firestore,
  ]
}

output "compactor_email" {
  value = google_service_account.compactor.email
  depends_on = [
    google_project_iam_member.compactor_runs_queries,
    google_bigquery_table_iam_member.compactor_reads_compacted_tables,
    google_bigquery_table_iam_member.compactor_reads_gaps,
    google_bigquery_table_iam_member.compactor_merges_settled_tables,
    google_bigquery_table_iam_member.compactor_publishes_views,
  ]
}

output "scheduler_invoker_email" {
  value = google_service_account.scheduler_invoker.email
}

output "compactor_invoker_email" {
  value = google_service_account.compactor_invoker.email
}

output "push_invoker_email" {
  value = google_service_account.push_invoker.email
}

output "function_builder_id" {
  description = "The build service account (projects/P/serviceAccounts/E), once its grants exist, so no build starts without them."
  value       = google_service_account.function_builder.id
  depends_on = [
    google_project_iam_member.builder_writes_logs,
    google_storage_bucket_iam_member.builder_reads_sources,
    google_artifact_registry_repository_iam_member.builder_pushes_images,
  ]
}

output "emails" {
  value = {
    relay             = google_service_account.relay.email
    writer            = google_service_account.writer.email
    gapfill           = google_service_account.gapfill.email
    compactor         = google_service_account.compactor.email
    compactor_invoker = google_service_account.compactor_invoker.email
    scheduler_invoker = google_service_account.scheduler_invoker.email
    push_invoker      = google_service_account.push_invoker.email
    function_builder  = google_service_account.function_builder.email
    ci                = google_service_account.ci.email
    deployer          = google_service_account.deployer.email
  }
}
