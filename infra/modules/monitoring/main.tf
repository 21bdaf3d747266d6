# Alerts written out by hand, and the dashboard. Two watch log-based metrics of signals.tf that need more
# than the generic policy: the gap-filler reports every stream's checkpoint age and every open gap's age
# each minute, because only it looks at every stream whether or not data flows (the writer is silent
# exactly when a stream stops), so its silence needs a condition of its own. The rest are Google's own
# metrics (Pub/Sub, Cloud Run: the writer's errors, the compactor's successes), which need no code.

locals {
  alert_doc = "Runbook: ${local.runbook}#alerts-and-runbook; deploy and replay steps: docs/DEPLOY.md."
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
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.signal["checkpoint_age"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = local.signals.checkpoint_age.threshold
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
      filter   = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.signal["checkpoint_age"].name}\""
      duration = "600s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_PERCENTILE_50"
        cross_series_reducer = "REDUCE_MAX"
      }
    }
  }

  documentation {
    content   = "The writer is not committing a stream's batches (relay down, push failing, BigQuery or Firestore trouble), or the gap-filler is not running. Lines: jsonPayload.signal=\"checkpoint_age\". Runbook: ${local.runbook}#${local.signals.checkpoint_age.runbook}. ${local.alert_doc}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_alert_policy" "gap_open" {
  project               = var.project_id
  display_name          = "tickstream: gap open for more than 30 minutes"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.notification_channels

  conditions {
    display_name = "a recorded gap has not been backfilled within 30 minutes (log-based metric)"
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.signal["open_gap_age"].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = local.signals.open_gap_age.threshold
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
    content   = "A gap becomes fillable 5 minutes after its end (Tardis publishes with a delay) and should be filled within 5 more (the gap_fill_overdue alert watches that); one still open 30 minutes after it was recorded means backfill is stuck (API key, history API, inserts). Lines: jsonPayload.signal=\"open_gap_age\". Runbook: ${local.runbook}#${local.signals.open_gap_age.runbook}. ${local.alert_doc}"
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
    content   = "No relay of the fleet (${var.relay_service}-a, -b) is publishing. Check their Cloud Run revisions, logs and /readyz; the gap-filler will backfill the hole once the relay is back. ${local.alert_doc}"
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

resource "google_monitoring_alert_policy" "compactor_behind" {
  project               = var.project_id
  display_name          = "tickstream: compactor behind (a day not settled 2 days after it ended)"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.notification_channels

  # The compactor runs hourly and answers 2xx only when every table's planned days were merged and the
  # boundary published (decisions/0028); a day is due 6 h after it ends (COMPACTOR_SETTLE_MS). No 2xx for
  # 42 h therefore means the day that ended 48 h ago is not settled. absent_over_time also fires when the
  # compactor is not called at all (job paused or deleted); the hour of `duration` covers a first deploy.
  conditions {
    display_name = "no 2xx answer from the compactor for 42 hours"
    condition_prometheus_query_language {
      query               = <<-EOT
        absent_over_time(run_googleapis_com:request_count{monitored_resource="cloud_run_revision",service_name="${var.compactor_service}",response_code_class="2xx"}[42h])
      EOT
      duration            = "3600s"
      evaluation_interval = "300s"
    }
  }

  documentation {
    content   = "The dedup views quotes_dedup and derivative_tickers_dedup stay exact but read a growing unsettled tail, so queries on them cost more each day. Check the Scheduler job tickstream-compactor-hourly and the compactor's ERROR lines (message \"table compaction failed\"). Runbook: ${local.runbook}#compactor-behind. ${local.alert_doc}"
    mime_type = "text/markdown"
  }
}

resource "google_monitoring_dashboard" "pipeline" {
  project = var.project_id
  dashboard_json = templatefile("${path.module}/dashboard.json", {
    checkpoint_age_metric    = google_logging_metric.signal["checkpoint_age"].name
    open_gap_age_metric      = google_logging_metric.signal["open_gap_age"].name
    relay_service            = var.relay_service
    writer_service           = var.writer_service
    gapfill_service          = var.gapfill_service
    topic                    = var.topic
    push_subscription        = var.push_subscription
    dead_letter_subscription = var.dead_letter_subscription
  })
}
