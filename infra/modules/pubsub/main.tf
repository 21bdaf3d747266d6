resource "google_pubsub_topic" "ticks" {
  project = var.project_id
  name    = var.topic

  # Keeps published batches a day after delivery, so a subscription can be seeked back to replay
  # them into the writer (e.g. after a bad writer release acked rows it should not have).
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = var.dead_letter_topic

  # Lets a temporary push subscription to the writer be seeked back over past dead letters to replay
  # them once their cause is fixed (docs/DEPLOY.md, "Replay dead letters").
  message_retention_duration = "604800s"
}

# A dead-letter topic without a subscription drops what it receives: this one keeps it (7 days).
resource "google_pubsub_subscription" "dead_letter_hold" {
  project                    = var.project_id
  name                       = var.dead_letter_subscription
  topic                      = google_pubsub_topic.dead_letter.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = true

  expiration_policy {
    ttl = "" # never expires, however long nothing dead-letters
  }
}

resource "google_pubsub_subscription" "writer_push" {
  project = var.project_id
  name    = var.push_subscription
  topic   = google_pubsub_topic.ticks.id

  # The ack deadline is also the push request timeout: it covers a slow insertAll with the writer's
  # in-delivery retries (WRITER_INSERT_ATTEMPTS) and the checkpoint write. A late answer is a nack.
  ack_deadline_seconds       = 120
  message_retention_duration = "604800s"

  push_config {
    push_endpoint = var.push_endpoint

    oidc_token {
      service_account_email = var.push_service_account_email
      audience              = var.push_endpoint
    }
  }

  # Exponential backoff between redeliveries of a nacked message instead of immediate retries.
  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = "" # the default (31 days idle) would delete the pipeline's only subscription
  }
}
