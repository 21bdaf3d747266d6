output "dataset_id" {
  description = "The dataset, once its tables and views exist: the functions depend on this, so a new column reaches BigQuery before code that writes it."
  value       = google_bigquery_dataset.this.dataset_id
  depends_on  = [google_bigquery_table.table, google_bigquery_table.dedup_view, google_bigquery_table.compacted_view]
}

output "tables" {
  value = sort(keys(google_bigquery_table.table))
}

output "views" {
  value = sort(concat(keys(google_bigquery_table.dedup_view), keys(google_bigquery_table.compacted_view)))
}
