# The signals of functions/core/shared/signals.ts and what Monitoring makes of them, as values only (no
# resources: test/integration/infra-monitoring.test.ts evaluates this file with Terraform offline and holds
# it equal to the code's table). The code writes every line that means data is late, lost or refused with
# a stable `signal` field; signal-alerts.tf makes one log-based metric per signal, counting its lines (or,
# with `value`, recording that field as a distribution), and one alert each: the generic policy, or an
# explicit one in main.tf (`own_policy_signals`). Metric labels map to JSON fields (`labels`).
#
# Counter alerts fire when more than `threshold` lines arrive within `window` (per label set);
# distribution alerts when the window's p99 of the value exceeds `threshold` (ms).

locals {
  services = {
    relay   = var.relay_service
    writer  = var.writer_service
    gapfill = var.gapfill_service
  }

  # How a log filter names a component's service: the relay is a fleet of pools, one service each
  # (<relay_service>-a, -b: modules/relay), so its lines are matched by the services' shared prefix.
  service_clauses = {
    relay   = "resource.labels.service_name=~\"^${var.relay_service}-[a-z]+$\""
    writer  = "resource.labels.service_name=\"${var.writer_service}\""
    gapfill = "resource.labels.service_name=\"${var.gapfill_service}\""
  }

  runbook = "docs/RELIABILITY.md"

  signals = {
    relay_publish_failed = {
      component = "relay", labels = { stream = "stream" }, value = null
      threshold = 0, window = "300s", severity = "ERROR", runbook = "relay-lost-a-batch"
      title     = "relay lost a batch (publish failed)"
      doc       = "The relay could not publish a batch to Pub/Sub: its ticks are not stored and its window is a hole (fields ticks, uncoveredMs). The gap-filler backfills it from Tardis within minutes."
    }
    relay_backlog_dropped = {
      component = "relay", labels = { stream = "stream" }, value = null
      threshold = 0, window = "300s", severity = "ERROR", runbook = "relay-lost-a-batch"
      title     = "relay dropped a batch (publisher backlog full)"
      doc       = "Pub/Sub acknowledged too slowly and the relay's in-flight bound was full, so it dropped a batch rather than grow without bound: a hole, backfilled by the gap-filler."
    }
    relay_shutdown_abandoned = {
      component = "relay", labels = {}, value = null
      threshold = 0, window = "300s", severity = "WARNING", runbook = "relay-lost-a-batch"
      title     = "relay stopped with publishes in flight"
      doc       = "A relay instance reached its shutdown deadline with batches unacknowledged: their windows are holes, backfilled by the gap-filler."
    }
    relay_connection_lost = {
      component = "relay", labels = { exchange = "exchange" }, value = null
      threshold = 5, window = "900s", severity = "WARNING", runbook = "relay-connection-and-feed"
      title     = "relay reconnecting often"
      doc       = "More than 5 exchange disconnects in 15 minutes. Each leaves a hole the gap-filler backfills; this many means network trouble, an exchange incident or rate limiting."
    }
    relay_stream_failed = {
      component = "relay", labels = { exchange = "exchange" }, value = null
      threshold = 2, window = "900s", severity = "ERROR", runbook = "relay-connection-and-feed"
      title     = "relay exchange stream failing"
      doc       = "The exchange stream failed (a frame the normalizer refused, or the stream itself) more than twice in 15 minutes; each failure restarts the connection and leaves a hole."
    }
    relay_stream_refused = {
      component = "relay", labels = { exchange = "exchange" }, value = null
      threshold = 0, window = "300s", severity = "CRITICAL", runbook = "relay-connection-and-feed"
      title     = "exchange refused a configured stream"
      doc       = "The exchange refused a stream of relay_streams (e.g. an unknown symbol). The relay exits with a configuration error and records nothing until relay_streams is fixed."
    }
    relay_feed_failed = {
      component = "relay", labels = {}, value = null
      threshold = 0, window = "300s", severity = "CRITICAL", runbook = "relay-connection-and-feed"
      title     = "relay feed stopped unexpectedly"
      doc       = "The relay's feed crashed and the process exits; Cloud Run restarts it and the gap-filler backfills the hole. The line's stack_trace is in Error Reporting."
    }
    fleet_takeover = {
      component = "relay", labels = { shard = "shard" }, value = null
      threshold = 6, window = "3600s", severity = "WARNING", runbook = "fleet-ownership"
      title     = "fleet shard changing primary often"
      doc       = "A standby took a shard over more than 6 times in an hour: its primaries keep dying, pausing past the lease or being redeployed. Each take-over replays from the old primary's publishedTo, so data is late, not lost (fleet_replay_hole says when it is not)."
    }
    fleet_replay_hole = {
      component = "relay", labels = { shard = "shard" }, value = null
      threshold = 0, window = "300s", severity = "ERROR", runbook = "fleet-ownership"
      title     = "fleet take-over left a hole"
      doc       = "A standby took a shard over but its replay buffer did not reach back to the old primary's publishedTo (fields replayFrom, bufferFrom): that span is a hole the gap-filler backfills from Tardis within minutes."
    }
    fleet_shard_unowned = {
      component = "relay", labels = {}, value = null
      threshold = 3, window = "300s", severity = "ERROR", runbook = "fleet-ownership"
      title     = "fleet shards without a live primary"
      doc       = "The fleet reporter saw shards (field shards) without a live primary for about 20 s or more: nobody publishes them, and the standbys' buffers fill. Check that the relay pools run and reach Firestore (npm run ops -- fleet)."
    }
    fleet_step_down = {
      component = "relay", labels = { shard = "shard" }, value = null
      threshold = 6, window = "3600s", severity = "WARNING", runbook = "fleet-ownership"
      title     = "fleet primaries stepping down often"
      doc       = "A primary saw a newer epoch publish past its coverage and stepped down more than 6 times in an hour: it pauses past its lease (CPU starvation, GC) or loses Firestore. Duplicates only, no hole."
    }
    fleet_handover_abandoned = {
      component = "relay", labels = {}, value = null
      threshold = 2, window = "900s", severity = "WARNING", runbook = "fleet-ownership"
      title     = "fleet members leaving without handing over"
      doc       = "Members stopped without handing their shards over (no other live member, or the handover budget ran out): a standby takes each shard after the lease and replays, so data is late by a lease."
    }
    relay_replay_overflow = {
      component = "relay", labels = { shard = "shard" }, value = null
      threshold = 0, window = "900s", severity = "WARNING", runbook = "fleet-ownership"
      title     = "fleet standby replay buffer full"
      doc       = "A standby's replay buffer (RELAY_FLEET_BUFFER_BYTES) dropped its oldest batches (fields batches, ticks, bytes): the shard's primary reports publishedTo slowly or the buffer is too small, and a take-over now may leave a hole the gap-filler backfills."
    }
    writer_message_quarantined = {
      component = "writer", labels = { reason = "reason" }, value = null
      threshold = 0, window = "300s", severity = "ERROR", runbook = "writer-quarantine"
      title     = "writer quarantined a whole message"
      doc       = "A message could not be read (label reason) and is kept verbatim in the quarantine table; its ticks are not in the tick tables and its window is a hole the gap-filler backfills."
    }
    writer_ticks_quarantined = {
      component = "writer", labels = { reason = "reason", stream = "stream" }, value = null
      threshold = 0, window = "300s", severity = "ERROR", runbook = "writer-quarantine"
      title     = "writer quarantined ticks"
      doc       = "Ticks of a committed batch were refused (label reason: invalid_tick, undecodable_tick, rejected_by_warehouse) and kept in quarantine. Their window counts as covered, so nothing backfills them."
    }
    writer_processing_error = {
      component = "writer", labels = {}, value = null
      threshold = 0, window = "300s", severity = "ERROR", runbook = "writer-quarantine"
      title     = "writer failed to process a message (bug)"
      doc       = "Planning a message threw: a bug meeting unusual data. The message is quarantined (reason processing_error); the stack is in Error Reporting."
    }
    writer_delivery_retried = {
      component = "writer", labels = {}, value = null
      threshold = 20, window = "300s", severity = "WARNING", runbook = "writer-retries-and-refusals"
      title     = "writer answering 503 (deliveries retried)"
      doc       = "More than 20 deliveries in 5 minutes were not durable (BigQuery or Firestore failing or slow) and were answered 503; Pub/Sub redelivers them, so data is late, not lost, until max_delivery_attempts sends them to the dead-letter topic."
    }
    writer_not_a_push = {
      component = "writer", labels = {}, value = null
      threshold = 0, window = "300s", severity = "WARNING", runbook = "writer-retries-and-refusals"
      title     = "writer refused a request that is not a Pub/Sub push"
      doc       = "The writer answered 400 to a body that is not a push envelope. From Pub/Sub it is redelivered until dead-lettered."
    }
    writer_body_refused = {
      component = "writer", labels = {}, value = null
      threshold = 0, window = "300s", severity = "WARNING", runbook = "writer-retries-and-refusals"
      title     = "writer refused an oversized request body"
      doc       = "A request body was larger than any Pub/Sub push can be and was refused before reading (413)."
    }
    writer_auth_refused = {
      component = "writer", labels = { status = "status" }, value = null
      threshold = 0, window = "300s", severity = "ERROR", runbook = "writer-retries-and-refusals"
      title     = "writer refused a push token"
      doc       = "A request passed Cloud Run's invoker check but its OIDC token has the wrong audience or identity (label status). If pushes are refused, they go to the dead-letter topic: check PUSH_AUTH_AUDIENCE and PUSH_AUTH_SERVICE_ACCOUNT against the subscription."
    }
    writer_auth_unavailable = {
      component = "writer", labels = {}, value = null
      threshold = 5, window = "300s", severity = "ERROR", runbook = "writer-retries-and-refusals"
      title     = "writer cannot verify push tokens"
      doc       = "The writer could not verify tokens (Google's certificates unreachable) more than 5 times in 5 minutes and answered 503: deliveries are late."
    }
    writer_checkpoint_failed = {
      component = "writer", labels = { stream = "stream" }, value = null
      threshold = 10, window = "300s", severity = "WARNING", runbook = "writer-retries-and-refusals"
      title     = "writer checkpoint writes failing"
      doc       = "Firestore refused more than 10 checkpoint writes of a stream in 5 minutes. Rows and coverage are stored; the checkpoint lags and the checkpoint-age alert follows if it persists."
    }
    checkpoint_age = {
      component = "gapfill", labels = { stream = "stream" }, value = "checkpointAgeMs"
      threshold = 30000, window = "60s", severity = "ERROR", runbook = "stream-late"
      title     = "checkpoint age"
      doc       = "How far each stream's checkpoint (coveredTo) trails the clock, reported by the gap-filler every minute."
    }
    open_gap_age = {
      component = "gapfill", labels = { stream = "stream" }, value = "gapAgeMs"
      threshold = 1800000, window = "60s", severity = "ERROR", runbook = "gaps"
      title     = "open gap age"
      doc       = "Age of each gap not yet backfilled (since it was recorded), reported by the gap-filler every minute."
    }
    gap_fill_overdue = {
      component = "gapfill", labels = { stream = "stream" }, value = "overdueMs"
      threshold = 300000, window = "60s", severity = "WARNING", runbook = "gaps"
      title     = "gap past its fill target"
      doc       = "A gap has been fillable for more than 5 minutes (the fill-latency target) and is still not filled: fills fail, wait for a retry, or runs are too slow."
    }
    gap_detected = {
      component = "gapfill", labels = { stream = "stream", detected_by = "detectedBy" }, value = null
      threshold = 12, window = "3600s", severity = "WARNING", runbook = "gaps"
      title     = "many gaps detected"
      doc       = "More than 12 holes of one stream recorded within an hour (label detected_by says how): the live path keeps breaking even if every hole is backfilled."
    }
    gap_failed = {
      component = "gapfill", labels = { stream = "stream" }, value = null
      threshold = 3, window = "3600s", severity = "WARNING", runbook = "gaps"
      title     = "gap fills failing"
      doc       = "More than 3 fill attempts of one stream failed within an hour (history API errors, timeouts, inserts). Each gap is retried with backoff until it is filled or unfillable."
    }
    gap_unfillable = {
      component = "gapfill", labels = { stream = "stream" }, value = null
      threshold = 0, window = "300s", severity = "CRITICAL", runbook = "gaps"
      title     = "gap unfillable: data missing for good"
      doc       = "A gap exhausted its attempts or history cannot cover it (field reason): its ticks are missing from the warehouse until someone backfills it by hand."
    }
    gapfill_key_refused = {
      component = "gapfill", labels = {}, value = null
      threshold = 0, window = "300s", severity = "CRITICAL", runbook = "gap-filler"
      title     = "history API refused the Tardis key"
      doc       = "Tardis.dev refused the API key: every fill is paused (retried every 15 minutes) and holes stay open."
    }
    gapfill_run_failed = {
      component = "gapfill", labels = {}, value = null
      threshold = 1, window = "600s", severity = "ERROR", runbook = "gap-filler"
      title     = "gap-filler runs failing"
      doc       = "More than one gap-filler run failed within 10 minutes (Firestore, BigQuery or a bug; the stack is in Error Reporting). Gaps wait for a run that succeeds."
    }
  }

  # Signals whose alert is written out in main.tf (a second condition, or an older policy kept by name).
  own_policy_signals = ["checkpoint_age", "open_gap_age"]

  # Distribution signals: the first bucket's upper bound (ms); buckets grow by 1.5, 40 of them.
  bucket_scale = {
    checkpoint_age   = 100
    open_gap_age     = 1000
    gap_fill_overdue = 1000
  }

  signal_metrics = {
    for name, s in local.signals : name => {
      name             = "tickstream_${name}"
      description      = "${s.title}: log lines with jsonPayload.signal=\"${name}\" from ${local.services[s.component]}."
      filter           = "resource.type=\"cloud_run_revision\" AND ${local.service_clauses[s.component]} AND jsonPayload.signal=\"${name}\""
      value_type       = s.value == null ? "INT64" : "DISTRIBUTION"
      unit             = s.value == null ? "1" : "ms"
      labels           = s.labels
      label_extractors = { for key, field in s.labels : key => "EXTRACT(jsonPayload.${field})" }
      value_extractor  = s.value == null ? null : "EXTRACT(jsonPayload.${s.value})"
      bucket_scale     = lookup(local.bucket_scale, name, null)
    }
  }

  signal_alerts = {
    for name, s in local.signals : name => {
      display_name   = "tickstream: ${s.title}"
      severity       = s.severity
      condition_name = s.value == null ? "more than ${s.threshold} in ${s.window}" : "p99 above ${s.threshold} ms"
      threshold      = s.threshold
      window         = s.window
      aligner        = s.value == null ? "ALIGN_SUM" : "ALIGN_PERCENTILE_99"
      reducer        = s.value == null ? "REDUCE_SUM" : "REDUCE_MAX"
      group_by       = [for key in keys(s.labels) : "metric.label.${key}"]
      documentation  = "${s.doc} Lines: jsonPayload.signal=\"${name}\" in ${local.services[s.component]}'s logs. Runbook: ${local.runbook}#${s.runbook}."
    } if !contains(local.own_policy_signals, name)
  }
}
