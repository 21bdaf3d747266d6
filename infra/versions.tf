terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "= 6.41.0"
    }
  }

  # Remote state in a GCS bucket created once by hand (docs/DEPLOY.md):
  #   terraform init -backend-config=bucket=STATE_BUCKET -backend-config=prefix=tickstream
  backend "gcs" {}
}
