variable "project_id" {
  type = string
}

variable "notification_channels" {
  description = "Notification channel ids every alert notifies."
  type        = list(string)
}

variable "environment" {
  description = "production, staging or development; production refuses an empty notification_channels (routing.tf)."
  type        = string
}

variable "relay_service" {
  description = "The relay services' name prefix: each pool's service is <relay_service>-<pool>."
  type        = string
}

variable "writer_service" {
  type = string
}

variable "gapfill_service" {
  type = string
}

variable "compactor_service" {
  description = "The compactor function's Cloud Run service (its successful runs are watched)."
  type        = string
}

variable "topic" {
  type = string
}

variable "push_subscription" {
  type = string
}

variable "dead_letter_subscription" {
  type = string
}
