# Alerts must reach someone in production: a plan with environment = "production" and no notification
# channel fails here, before anything is created. (A precondition, not a variable validation: validations
# that read another variable need Terraform 1.9, and the root allows 1.5.)
resource "terraform_data" "alert_routing" {
  input = {
    environment           = var.environment
    notification_channels = var.notification_channels
  }

  lifecycle {
    precondition {
      condition     = var.environment != "production" || length(var.notification_channels) > 0
      error_message = "environment is production but notification_channels is empty: every alert would notify nobody. Create a notification channel (docs/DEPLOY.md, Alerts) and set notification_channels, or set environment to staging or development."
    }
  }
}
