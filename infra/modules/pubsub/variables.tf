variable "project_id" {
  type = string
}

variable "topic" {
  description = "Topic the relay publishes tick batches to."
  type        = string
}

variable "push_subscription" {
  description = "Push subscription delivering to the writer."
  type        = string
}

variable "dead_letter_topic" {
  description = "Topic undeliverable messages move to."
  type        = string
}

variable "dead_letter_subscription" {
  description = "Pull subscription keeping dead letters until someone inspects or replays them."
  type        = string
}

variable "push_endpoint" {
  description = "The writer's URL; also the OIDC audience."
  type        = string
}

variable "push_service_account_email" {
  description = "Identity of the push requests (holds run.invoker on the writer only)."
  type        = string
}

variable "max_delivery_attempts" {
  type = number
}
