variable "project_id" {
  type = string
}

variable "location" {
  description = "Firestore location (a multi-region like eur3 / nam5, or a region)."
  type        = string
}

variable "heartbeats" {
  description = "Collection of relay heartbeat documents."
  type        = string
}

variable "leases" {
  description = "Collection of lease documents (the gap-filler's single-runner lease)."
  type        = string
}

variable "ttl_field" {
  description = "Timestamp field after which a document may be deleted."
  type        = string
}

variable "members" {
  description = "Collection of relay fleet member documents."
  type        = string
}
