# Alerts and the dashboard. Two signals come from log-based metrics over the gap-filler's logs, because
# only the gap-filler looks at every stream every minute whether or not data flows (the writer is silent
# exactly when a stream stops). The gap-filler's side of that contract, one JSON log line per run:
#   {"severity":"INFO","message":"checkpoint age","stream":"<exchange:symbol:type>","checkpointAgeMs":N}
#     per configured stream: now minus the checkpoint's coveredTo;
#   {"severity":"INFO","message":"gap open","stream":"<exchange:symbol:type>","gapId":"..","gapAgeMs":N}
#     per gap not yet filled: now minus when the gap was first recorded.
# The other signals are Google's own metrics (Pub/Sub, Cloud Run), which need no code.

locals {
  gapfill_logs = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${var.gapfill_service}\"",
  ])
  alert_doc = "Runbook: docs/DEPLOY.md (Verify, Redeploy without data loss, Rollback)."
}

resource "google_logging_metric" "checkpoint_age" {
  project     = var.project_id
  name        = "tickstream_checkpoint_age"
  description = "How far each stream's checkpoint (coveredTo) trails the clock, reported by the gap-filler every minute."
  filter      = "${local.gapfill_logs} AND jsonPayload.message=\"checkpoint age\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
    labels {
      key         = "stream"
      value_type  = "STRING"
      description = "exchange:symbol:type"
    }
  }
  value_extractor = "EXTRACT(jsonPayload.checkpointAgeMs)"
  label_extractors = {
    stream = "EXTRACT(jsonPayload.stream)"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.5
      scale              = 100
    }
  }
}

resource "google_logging_metric" "open_gap_age" {
  project     = var.project_id
  name        = "tickstream_open_gap_age"
  description = "Age of each gap not yet backfilled, reported by the gap-filler every minute."
  filter      = "${local.gapfill_logs} AND jsonPayload.message=\"gap open\""

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "DISTRIBUTION"
    unit        = "ms"
    labels {
      key         = "stream"
      value_type  = "STRING"
      description = "exchange:symbol:type"
    }
  }
  value_extractor = "EXTRACT(jsonPayload.gapAgeMs)"
  label_extractors = {
    stream = "EXTRACT(jsonPayload.stream)"
  }
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.5
      scale              = 1000
    }
  }
}

resource "google_monitoring_alert_policy" "checkpoint_age" {
  project               = var.project_id
  display_name          = "tickstream: checkpoint older than 30 s"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "a stream's checkpoint trails the clock by more than 30 s (log-based metric)"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.checkpoint_age.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 30000
      duration        = "60s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["metric.label.stream"]
      }
      trigger {
        count = 1
      }
    }
  }

  # Without this the alert above would stay silent when the gap-filler itself stops reporting.
  conditions {
    display_name = "the gap-filler has reported no checkpoint age for 10 minutes"
    condition_absent {
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.checkpoint_age.name}\""
      duration = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_50"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  documentation {
    content   = "The writer is not committing a stream's batches (relay down, push failing, BigQuery or Firestore trouble), or the gap-filler is not running. ${local.alert_doc}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "gap_open" {
  project               = var.project_id
  display_name          = "tickstream: gap open for more than 5 minutes"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "a recorded gap has not been backfilled within 5 minutes (log-based metric)"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.open_gap_age.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 300000
      duration        = "0s"
      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_PERCENTILE_99"
        cross_series_reducer = "REDUCE_MAX"
        group_by_fields      = ["metric.label.stream"]
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = "Tardis.dev publishes with a delay of minutes, so young gaps are normal; one older than 5 minutes means the backfill fails (API key, rate limit, quarantine). Check the gap-filler's logs and the gaps table. ${local.alert_doc}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "dead_letters" {
  project               = var.project_id
  display_name          = "tickstream: dead-lettered messages waiting"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  conditions {
    display_name = "the dead-letter subscription's backlog is above 0"
    condition_threshold {
      filter          = "resource.type=\"pubsub_subscription\" AND resource.labels.subscription_id=\"${var.dead_letter_subscription}\" AND metric.type=\"pubsub.googleapis.com/subscription/num_undelivered_messages\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
      trigger {
        count = 1
      }
    }
  }

  documentation {
    content   = "A batch exhausted its push deliveries and sits in ${var.dead_letter_subscription}. Nothing is lost while it is there (7 days): inspect it, fix the cause, replay it (docs/DEPLOY.md). ${local.alert_doc}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "relay_heartbeat" {
  project               = var.project_id
  display_name          = "tickstream: relay heartbeat missing"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.notification_channels

  # The relay publishes at least one batch per stream every BATCH_HEARTBEAT_MS (an empty one when the
  # market is quiet), so silence on the topic means the relay is down or cannot publish.
  conditions {
    display_name = "no publish to the ticks topic for 3 minutes"
    condition_absent {
      filter   = "resource.type=\"pubsub_topic\" AND resource.labels.topic_id=\"${var.topic}\" AND metric.type=\"pubsub.googleapis.com/topic/send_request_count\""
      duration = "180s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }

  documentation {
    content   = "The relay (${var.relay_service}) is not publishing. Check its Cloud Run revision, logs and /readyz; the gap-filler will backfill the hole once the relay is back. ${local.alert_doc}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "writer_errors" {
  project               = var.project_id
  display_name          = "tickstream: writer error rate above 5%"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  # Every non-2xx answer is a nack that Pub/Sub redelivers; a sustained share means a stuck backlog.
  conditions {
    display_name = "more than 5% of push requests answered non-2xx over 5 minutes"
    condition_prometheus_query_language {
      query               = <<-EOT
        sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${var.writer_service}",response_code_class!="2xx"}[5m]))
        /
        sum(rate(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${var.writer_service}"}[5m]))
        > 0.05
      EOT
      duration            = "300s"
      evaluation_interval = "60s"
    }
  }

  documentation {
    content   = "The writer answers 503 when BigQuery or Firestore fail (retried by Pub/Sub) and 400 for a body that is not a push envelope (dead-lettered). Check the writer's WARNING logs. ${local.alert_doc}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_dashboard" "pipeline" {
  project = var.project_id
  dashboard_json = templatefile("${path.module}/dashboard.json", {
    checkpoint_age_metric    = google_logging_metric.checkpoint_age.name
    open_gap_age_metric      = google_logging_metric.open_gap_age.name
    relay_service            = var.relay_service
    writer_service           = var.writer_service
    gapfill_service          = var.gapfill_service
    topic                    = var.topic
    push_subscription        = var.push_subscription
    dead_letter_subscription = var.dead_letter_subscription
  })
}
