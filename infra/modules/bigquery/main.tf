# Tables and dedup views from schemas/, which scripts/gen-infra-schemas.ts generates from the code's
# single schema source (functions/core/schema.ts, TABLES). Never edit schemas/ by hand: change TABLES
# and regenerate; the infra test fails on any difference.

locals {
  # table name => { description, timePartitioning?, clustering?, dedupView? }
  catalogue = jsondecode(file("${path.module}/schemas/tables.json"))

  # view name => SQL, for every table with a dedup key
  view_sql = {
    for name, table in local.catalogue : table.dedupView.name => replace(
      replace(table.dedupView.query, "{project}", var.project_id), "{dataset}", google_bigquery_dataset.this.dataset_id
    ) if can(table.dedupView.name)
  }
  # The compacted views' SQL carries the boundary the compactor publishes (decisions/0028).
  compacted       = toset([for name, table in local.catalogue : table.dedupView.name if try(table.dedupView.compacted, false)])
  dedup_views     = { for name, sql in local.view_sql : name => sql if !contains(local.compacted, name) }
  compacted_views = { for name, sql in local.view_sql : name => sql if contains(local.compacted, name) }
}

resource "google_bigquery_dataset" "this" {
  project     = var.project_id
  dataset_id  = var.dataset
  location    = var.location
  description = "tickstream: exchange market data (trades, quotes, book changes, derivative tickers, liquidations), coverage, quarantine, gaps"

  delete_contents_on_destroy = false
}

resource "google_bigquery_table" "table" {
  for_each = local.catalogue

  project     = var.project_id
  dataset_id  = google_bigquery_dataset.this.dataset_id
  table_id    = each.key
  description = each.value.description
  schema      = file("${path.module}/schemas/${each.key}.json")

  dynamic "time_partitioning" {
    for_each = can(each.value.timePartitioning.field) ? [each.value.timePartitioning] : []
    content {
      type  = time_partitioning.value.type
      field = time_partitioning.value.field
    }
  }

  clustering = can(each.value.clustering.fields) ? each.value.clustering.fields : null

  # Terraform must never drop a table of market data; a schema change that needs a new table is a
  # migration, done by hand.
  deletion_protection = true
}

resource "google_bigquery_table" "dedup_view" {
  for_each = local.dedup_views

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = each.key
  description         = "One row per logical id of the base table, the earliest ingested copy."
  deletion_protection = false

  view {
    query          = each.value
    use_legacy_sql = false
  }

  depends_on = [google_bigquery_table.table]
}

# Created with nothing settled (exact, reading the whole tail); the compactor then rewrites the SQL with
# each new boundary, so Terraform leaves the query alone after creating it.
resource "google_bigquery_table" "compacted_view" {
  for_each = local.compacted_views

  project             = var.project_id
  dataset_id          = google_bigquery_dataset.this.dataset_id
  table_id            = each.key
  description         = "One row per logical id of the base table, the earliest ingested copy: settled days from <table>_settled, the rest from the table."
  deletion_protection = false

  view {
    query          = each.value
    use_legacy_sql = false
  }

  lifecycle {
    ignore_changes = [view]
  }

  depends_on = [google_bigquery_table.table]
}
