variable "project_id" {
  type = string
}
