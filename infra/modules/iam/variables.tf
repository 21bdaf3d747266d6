variable "project_id" {
  type = string
}

variable "project_number" {
  description = "Project number, for the Pub/Sub service agent's address."
  type        = string
}

variable "region" {
  type = string
}

variable "ticks_topic" {
  description = "Topic the relay publishes to."
  type        = string
}

variable "dead_letter_topic" {
  description = "Topic Pub/Sub moves undeliverable messages to."
  type        = string
}

variable "push_subscription" {
  description = "Push subscription feeding the writer."
  type        = string
}

variable "dataset" {
  description = "BigQuery dataset id."
  type        = string
}

variable "writer_service" {
  description = "Cloud Run service behind the writer function."
  type        = string
}

variable "gapfill_service" {
  description = "Cloud Run service behind the gap-filler function."
  type        = string
}

variable "tardis_secret" {
  description = "Secret Manager secret id of the Tardis.dev API key."
  type        = string
}

variable "docker_repository" {
  description = "Artifact Registry repository id (projects/P/locations/R/repositories/N)."
  type        = string
}

variable "source_bucket" {
  description = "Bucket holding the functions' source zips."
  type        = string
}

variable "compactor_service" {
  description = "Cloud Run service behind the compactor function."
  type        = string
}

variable "compacted_tables" {
  description = "Base tables the compactor settles (it reads them)."
  type        = list(string)
}

variable "settled_tables" {
  description = "The compactor's _settled tables (it merges into them)."
  type        = list(string)
}

variable "compacted_views" {
  description = "The dedup views whose boundary the compactor publishes (it rewrites their SQL)."
  type        = list(string)
}

variable "gaps_table" {
  description = "The gap ledger's BigQuery mirror (the compactor reads which settled days were filled)."
  type        = string
}
