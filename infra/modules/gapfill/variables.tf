variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "name" {
  description = "Function name (and the name of its Cloud Run service)."
  type        = string
}

variable "source_zip" {
  description = "Local path of the zip made by scripts/package-function.ts gapfill."
  type        = string
}

variable "source_bucket" {
  type = string
}

variable "docker_repository" {
  description = "Artifact Registry repository id the build pushes the function image to."
  type        = string
}

variable "build_service_account" {
  description = "Build service account id (projects/P/serviceAccounts/E)."
  type        = string
}

variable "service_account_email" {
  description = "Runtime identity."
  type        = string
}

variable "dataset" {
  type = string
}

variable "checkpoints" {
  description = "Firestore collection of checkpoints."
  type        = string
}

variable "log_level" {
  type = string
}

variable "gaps" {
  description = "Firestore collection of the gap ledger."
  type        = string
}

variable "leases" {
  description = "Firestore collection of leases."
  type        = string
}

variable "tardis_api_endpoint" {
  type = string
}

variable "tardis_api_key_secret" {
  description = "Secret Manager secret id holding the Tardis.dev API key."
  type        = string
}

variable "streams" {
  description = "The streams that should be recorded, in the relay's RELAY_STREAMS format; holes are looked for in these."
  type        = string
}

variable "tardis_key_version" {
  description = "The secret version the gap-filler reads (a number, never latest)."
  type        = string
}
