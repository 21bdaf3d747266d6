variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "name" {
  description = "Cloud Run service name."
  type        = string
}

variable "image" {
  description = "Relay image (REGION-docker.pkg.dev/PROJECT/REPO/relay:TAG)."
  type        = string
}

variable "service_account_email" {
  type = string
}

variable "streams" {
  description = "RELAY_STREAMS value."
  type        = string
}

variable "topic" {
  description = "Topic to publish tick batches to."
  type        = string
}

variable "log_level" {
  type = string
}

variable "checkpoints" {
  description = "Firestore collection of checkpoints (read at start)."
  type        = string
}

variable "gaps" {
  description = "Firestore collection of the gap ledger (startup gaps)."
  type        = string
}

variable "heartbeats" {
  description = "Firestore collection of relay liveness records."
  type        = string
}
