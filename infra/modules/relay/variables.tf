variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "name" {
  description = "Cloud Run service name prefix: each pool is <name>-<pool>."
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

variable "pools" {
  description = "Relay pools, one Cloud Run service each; each shard has one replica per pool."
  type        = list(string)
}

variable "instances_per_pool" {
  description = "Instances of each pool (min = max)."
  type        = number
}

variable "held_images" {
  description = "Pool -> image to keep instead of var.image (CD's first phase holds pool b at its deployed image)."
  type        = map(string)
  default     = {}
}

variable "fleet_min_shards" {
  description = "RELAY_FLEET_MIN_SHARDS: least shards per exchange, the same for every member."
  type        = number
}

variable "members" {
  description = "Firestore collection of relay fleet members."
  type        = string
}

variable "shards" {
  description = "Firestore collection of shard ownership records."
  type        = string
}
