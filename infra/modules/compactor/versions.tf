terraform {
  required_providers {
    # The version is pinned once, in the root module (infra/versions.tf).
    google = {
      source = "hashicorp/google"
    }
  }
}
