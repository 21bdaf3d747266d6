# Custom roles for the writer, the gap-filler and the compactor: only what inserting rows, running their
# queries and the compactor's merges and view rewrites need, instead of bigquery.dataEditor (which can also create, alter and drop tables). Each permission and
# the call that needs it are listed in infra/iam-allowlist.json; the infra test compares the two exactly.

# Adding rows, granted on the dataset: the Storage Write API's AppendRows (the default, decisions/0025)
# needs bigquery.tables.updateData; insertAll (the WRITER_INGEST=insert-all fallback) also needs the two
# gets. The documented permissions of both calls.
resource "google_project_iam_custom_role" "row_writer" {
  project     = var.project_id
  role_id     = "tickstreamRowWriter"
  title       = "tickstream row writer"
  description = "Append or insertAll rows into existing tables of the dataset it is granted on; no create, alter, read or drop"
  permissions = [
    "bigquery.datasets.get",
    "bigquery.tables.get",
    "bigquery.tables.updateData",
  ]
}

# Reading rows in a query, granted on the dataset: the gap-filler's coverage and trade-id queries.
resource "google_project_iam_custom_role" "row_reader" {
  project     = var.project_id
  role_id     = "tickstreamRowReader"
  title       = "tickstream row reader"
  description = "Read the rows of the tables of the dataset it is granted on, in a query"
  permissions = [
    "bigquery.tables.getData",
  ]
}

# Running query jobs, granted on the project (jobs have no narrower scope); a job's creator may read its
# own results, so nothing else is needed.
resource "google_project_iam_custom_role" "query_runner" {
  project     = var.project_id
  role_id     = "tickstreamQueryRunner"
  title       = "tickstream query runner"
  description = "Run query jobs in the project (what each job reads is granted on the dataset)"
  permissions = [
    "bigquery.jobs.create",
  ]
}

# The compactor's MERGE into a _settled table, granted on each _settled table: it reads the target's day
# (the DELETE branch) and replaces it; the view rewrite also needs to read the tables the view names.
resource "google_project_iam_custom_role" "settled_merger" {
  project     = var.project_id
  role_id     = "tickstreamSettledMerger"
  title       = "tickstream settled merger"
  description = "Read and change the rows of the table it is granted on (DML); no create, alter or drop"
  permissions = [
    "bigquery.tables.getData",
    "bigquery.tables.updateData",
  ]
}

# Publishing the boundary, granted on each compacted view: tables.get reads the view's SQL, tables.patch
# rewrites it (BigQuery's documented permissions for updating a view).
resource "google_project_iam_custom_role" "view_publisher" {
  project     = var.project_id
  role_id     = "tickstreamViewPublisher"
  title       = "tickstream view publisher"
  description = "Read and rewrite the definition of the view it is granted on; no create, read of rows or drop"
  permissions = [
    "bigquery.tables.get",
    "bigquery.tables.update",
  ]
}
