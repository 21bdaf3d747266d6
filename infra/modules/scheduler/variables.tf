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

variable "compactor_job_name" {
  description = "Name of the compactor's hourly job."
  type        = string
}

variable "compactor_uri" {
  description = "The compactor's URL; also the OIDC audience."
  type        = string
}

variable "compactor_invoker_service_account_email" {
  description = "Identity of the compactor's calls (holds run.invoker on the compactor only)."
  type        = string
}
