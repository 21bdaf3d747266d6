# One log-based metric and (unless main.tf has its own) one alert per signal; the values are in signals.tf.

resource "google_logging_metric" "signal" {
  for_each = local.signal_metrics

  project     = var.project_id
  name        = each.value.name
  description = each.value.description
  filter      = each.value.filter

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = each.value.value_type
    unit        = each.value.unit
    dynamic "labels" {
      for_each = each.value.labels
      content {
        key         = labels.key
        value_type  = "STRING"
        description = "jsonPayload.${labels.value}"
      }
    }
  }
  label_extractors = each.value.label_extractors
  value_extractor  = each.value.value_extractor

  dynamic "bucket_options" {
    for_each = each.value.bucket_scale == null ? [] : [each.value.bucket_scale]
    content {
      exponential_buckets {
        num_finite_buckets = 40
        growth_factor      = 1.5
        scale              = bucket_options.value
      }
    }
  }
}

# The two gap-filler metrics existed before as their own resources: keep them, and their history.
moved {
  from = google_logging_metric.checkpoint_age
  to   = google_logging_metric.signal["checkpoint_age"]
}

moved {
  from = google_logging_metric.open_gap_age
  to   = google_logging_metric.signal["open_gap_age"]
}

resource "google_monitoring_alert_policy" "signal" {
  for_each = local.signal_alerts

  project               = var.project_id
  display_name          = each.value.display_name
  combiner              = "OR"
  severity              = each.value.severity
  notification_channels = var.notification_channels

  conditions {
    display_name = each.value.condition_name
    condition_threshold {
      filter          = "resource.type=\"cloud_run_revision\" AND metric.type=\"logging.googleapis.com/user/${google_logging_metric.signal[each.key].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.threshold
      duration        = "0s"
      aggregations {
        alignment_period     = each.value.window
        per_series_aligner   = each.value.aligner
        cross_series_reducer = each.value.reducer
        group_by_fields      = each.value.group_by
      }
      trigger {
        count = 1
      }
    }
  }

  # Log lines stop when the trouble stops: close the incident then, not after the default 7 days.
  alert_strategy {
    auto_close = "1800s"
  }

  documentation {
    content   = each.value.documentation
    mime_type = "text/markdown"
  }
}
