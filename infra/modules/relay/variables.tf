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
