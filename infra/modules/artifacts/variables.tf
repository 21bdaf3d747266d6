variable "project_id" {
  type = string
}

variable "region" {
  type = string
}

variable "repository" {
  description = "Artifact Registry Docker repository name."
  type        = string
}
