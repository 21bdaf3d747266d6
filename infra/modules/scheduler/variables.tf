variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "name" {
  description = "Job name."
  type        = string
}

variable "target_uri" {
  description = "The gap-filler's URL; also the OIDC audience."
  type        = string
}

variable "invoker_service_account_email" {
  description = "Identity of the calls (holds run.invoker on the gap-filler only)."
  type        = string
}
