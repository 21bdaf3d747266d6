# Custom roles for the writer and the gap-filler: only what inserting rows and running their two queries
# need, instead of bigquery.dataEditor (which can also create, alter and drop tables). Each permission and
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
