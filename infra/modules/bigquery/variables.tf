variable "project_id" {
  type = string
}

variable "location" {
  description = "Dataset location."
  type        = string
}

variable "dataset" {
  description = "Dataset id."
  type        = string
}
