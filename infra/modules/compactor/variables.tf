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
  description = "Local path of the zip made by scripts/package-function.ts compactor."
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

variable "log_level" {
  type = string
}
